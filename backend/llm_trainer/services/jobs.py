"""The one dispatcher of background work (core/jobs.py defines a job): claims queued jobs with a compare-and-set that
records this process as owner, runs training in worker processes (services/run_scheduler.py) and light jobs
(batch prediction, export) in a bounded pool, marks jobs whose heartbeat stopped `interrupted`, and applies each
kind's restart policy to jobs whose owner died.

A light kind plugs in with `register(kind, handler, on_end)`: the handler gets a JobContext (typed params,
heartbeat) and returns the job's JobResult or raises (the job fails with the error's message); `on_end(session, job)`
runs after every status change the dispatcher makes (finish, fail, time-out, re-queue), for kinds that keep a
public row of their own (batch jobs).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import AppError, Stopping
from llm_trainer.core.jobs import (
    LIGHT_KINDS,
    RESTART_POLICY,
    SLOW_PHASES,
    BatchPredictParams,
    ExportParams,
    JobKind,
    JobProgress,
    JobResult,
    JobStatus,
    RestartPolicy,
    parse_params,
)
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import Job
from llm_trainer.db.repositories import batch_jobs as batch_repo
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.db.repositories import versions_query
from llm_trainer.ml.version_store import EXPORTS_DIR, PARTIAL_SUFFIX, STAGING_PREFIX
from llm_trainer.services.job_records import error_text, owner_alive, process_owner
from llm_trainer.services.run_scheduler import TrainSupervisor, _aware

log = logging.getLogger(__name__)

TICK_S = 1.0
SERVER_FILE = "dispatcher.json"  # the server's dispatcher announces itself here; a CLI then leaves the queue to it
LIGHT_STOP_S = 5.0  # how long a stopping server waits for its light jobs to give up or end
LIGHT_BEAT_S = 10.0  # a light job without a loop of its own (an export) is beaten this often while it runs
MAX_ATTEMPTS_REQUEUED_ONCE = 2


class JobContext:
    """What a light job's handler gets: its typed params and a heartbeat that also reports progress."""

    def __init__(self, factory: sessionmaker[Session], job: Job, owner: str, stopping: threading.Event | None = None):
        self.factory = factory
        # Set when the process shuts down: a long handler gives up with `Stopping` and the job is queued again.
        self.stopping = stopping or threading.Event()
        self.job_id = job.id
        self.kind = JobKind(job.kind)
        self.params = parse_params(job.kind, job.params)
        self.owner = owner
        self.done, self.total = 0, 0  # the last progress reported, repeated by `beating`

    def beat(
        self, done: int = 0, total: int = 0, message: str = "", also: Callable[[Session], None] | None = None
    ) -> bool:
        """Record liveness and progress, plus `also(session)` (a kind's own counters) in the same transaction while
        the job is still this owner's; False once it is not (timed out, re-queued)."""
        self.done, self.total = done, total
        progress = JobProgress(done=done, total=total, message=message).model_dump()
        with session_scope(self.factory) as session:
            ours = jobs_repo.heartbeat(session, self.job_id, self.owner, progress)
            if ours and also is not None:
                also(session)
            return ours

    @contextlib.contextmanager
    def beating(self, message: str) -> Iterator[None]:
        """Beat every LIGHT_BEAT_S while a single long call (an ONNX export, a model conversion) runs in this thread,
        repeating the last progress it reported."""
        done = threading.Event()

        def _loop() -> None:
            while not done.wait(LIGHT_BEAT_S):
                with contextlib.suppress(Exception):  # a busy database delays a beat, it does not end the job
                    self.beat(self.done, self.total, message)

        self.beat(message=message)
        thread = threading.Thread(target=_loop, name=f"job-{self.job_id}-beat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()


Handler = Callable[[JobContext], JobResult]
OnEnd = Callable[[Session, Job], None]
OnStart = Callable[[Session], list[int]]


def sweep_orphans(settings: Settings, session: Session) -> list[Path]:
    """Remove what dead processes left half-made: version staging folders (.tmp-run<id>-*) of runs not training,
    version folders whose row never committed, export .partial folders of versions not exporting, batch folders no
    batch job refers to, checkpoints of runs that no longer exist. Returns what was removed."""
    active_runs = {run.id for run in runs_repo.active_runs(session)}
    exporting = {
        ExportParams.model_validate(job.params).version_id
        for job in jobs_repo.running(session)
        if job.kind == JobKind.EXPORT.value
    }
    known_batches = {Path(path).parent.resolve() for path in batch_repo.input_paths(session)}
    known_runs = set(runs_repo.run_ids(session))
    found: list[Path] = []
    for tmp in settings.models_dir.glob(STAGING_PREFIX + "*"):
        run_id = tmp.name.removeprefix(STAGING_PREFIX).split("-")[0]
        if not run_id.isdigit() or int(run_id) not in active_runs:
            found.append(tmp)
    for partial in settings.models_dir.glob(f"*/{EXPORTS_DIR}/*{PARTIAL_SUFFIX}"):
        if not partial.parents[1].name.isdigit() or int(partial.parents[1].name) not in exporting:
            found.append(partial)
    found += [d for d in (settings.uploads_dir / "batch").glob("*") if d.is_dir() and d.resolve() not in known_batches]
    found += [
        d / "checkpoints"
        for d in settings.runs_dir.glob("*")
        if d.name.isdigit() and int(d.name) not in known_runs and (d / "checkpoints").is_dir()
    ]
    if not active_runs:  # no worker can be between publishing a version folder and committing its row
        versions = versions_query.version_ids(session)
        found += [d for d in settings.models_dir.glob("*") if d.name.isdigit() and int(d.name) not in versions]
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


def _announcement(settings: Settings) -> dict[str, str]:
    """What a live server dispatcher on this data dir wrote about itself ({} when none runs)."""
    try:
        found = json.loads((settings.data_dir / SERVER_FILE).read_text(encoding="utf-8"))
        return found if owner_alive(found["owner"]) else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def server_dispatcher(settings: Settings) -> str | None:
    """The owner id of a live server dispatcher on this data dir, if one runs."""
    return _announcement(settings).get("owner")


def announced_server(settings: Settings) -> str | None:
    """The URL a live server on this data dir answers at (`llm-trainer serve` announces it), if one runs."""
    return _announcement(settings).get("url") or None


def heartbeat_limit(settings: Settings, job: Job) -> float:
    """Seconds of silence allowed: longer while the job starts, loads its model, evaluates or saves."""
    phase = (job.progress or {}).get("message", "")
    return settings.job_heartbeat_slow_timeout_s if phase in SLOW_PHASES else settings.job_heartbeat_timeout_s


def kind_limit(settings: Settings, kind: JobKind) -> int:
    """How many jobs of a kind may run at once, across every process on this database."""
    limits = {
        JobKind.TRAIN: settings.max_concurrent_runs,
        JobKind.EXPORT: settings.max_concurrent_exports,
        JobKind.PREPARE_MODEL: 1,  # downloads share one link; the pool keeps a slot for batch jobs and exports
    }
    return limits.get(kind, settings.max_background_jobs)


class JobDispatcher:
    """One per server (or per `llm-trainer train --wait` without a server, limited to its own job)."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], only_runs: set[int] | None = None):
        self.settings = settings
        self.factory = factory
        self.owner = process_owner()
        self.train = TrainSupervisor(settings, factory, only_runs)
        self.is_server = only_runs is None  # a CLI's dispatcher trains its own run and takes no light jobs
        self.handlers: dict[JobKind, Handler] = {}
        self.on_end: dict[JobKind, OnEnd] = {}
        self.on_start: list[OnStart] = []
        # Light jobs this process runs, one thread each, at most max_background_jobs (a timed-out one leaves the
        # count: its thread cannot be killed, but it no longer holds a slot).
        self.in_flight: dict[int, threading.Thread] = {}
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def register(
        self, kind: JobKind, handler: Handler, on_end: OnEnd | None = None, on_start: OnStart | None = None
    ) -> None:
        """`on_start(session)` runs once when a server's dispatcher starts (a kind's own start-up repair) and
        returns the ids it repaired, which are logged."""
        self.handlers[kind] = handler
        if on_end is not None:
            self.on_end[kind] = on_end
        if on_start is not None:
            self.on_start.append(on_start)

    def start(self) -> None:
        with session_scope(self.factory) as session:
            self.reconcile(session)
            if self.is_server:
                # Runs of dead owners end first (their orphan workers killed): none of them can still be between
                # publishing a version folder and committing its row when the sweep looks.
                self.train.reap(session)
                for path in sweep_orphans(self.settings, session):
                    log.warning("removed orphan left by an earlier process: %s", path)
                for hook in self.on_start:
                    if repaired := hook(session):
                        log.warning("start-up repair %s: %s", getattr(hook, "func", hook).__name__, repaired)
        if self.is_server:
            announcement = {"owner": self.owner, "url": self.settings.server_url}
            (self.settings.data_dir / SERVER_FILE).write_text(json.dumps(announcement), encoding="utf-8")
        self.thread = threading.Thread(target=self._loop, name="job-dispatcher", daemon=True)
        self.thread.start()

    def notify(self) -> None:
        self.wake.set()

    def shutdown(self) -> None:
        """Stop dispatching; this process's workers end (their runs become interrupted), light jobs get 5 s (an
        export stops its tracing process and goes back to the queue)."""
        self.stopping.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout=5)
        deadline = time.monotonic() + LIGHT_STOP_S
        for thread in list(self.in_flight.values()):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.train.shutdown()
        if self.is_server and server_dispatcher(self.settings) == self.owner:
            (self.settings.data_dir / SERVER_FILE).unlink(missing_ok=True)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the dispatcher must survive anything and retry next tick
                log.exception("dispatcher tick failed")
            self.wake.wait(TICK_S)
            self.wake.clear()

    def tick(self) -> None:
        with session_scope(self.factory) as session:
            self.reconcile(session)
            self._time_out(session)
            self.train.tick(session)
            self._launch_light(session)

    def reconcile(self, session: Session) -> list[int]:
        """Each kind's restart policy for running jobs whose owner process is dead; returns their ids."""
        handled = []
        for job in jobs_repo.running(session):
            if job.owner == self.owner or owner_alive(job.owner) is not False:
                continue
            kind = JobKind(job.kind)
            if kind is JobKind.TRAIN:
                continue  # the train supervisor reaps it (kills an orphan worker, marks the run interrupted)
            self._restart(session, job, RESTART_POLICY[kind])
            handled.append(job.id)
        session.commit()
        return handled

    def _restart(self, session: Session, job: Job, policy: RestartPolicy) -> None:
        requeue = policy is RestartPolicy.REQUEUE_ONCE and job.attempts < MAX_ATTEMPTS_REQUEUED_ONCE
        message = "The process running this job died twice; start it again."
        if policy is RestartPolicy.REQUEUE_IF_INPUT:
            requeue = Path(BatchPredictParams.model_validate(job.params).input_path).is_file()
            message = "The server restarted and this job's file is gone. Upload the file again."
        if policy is RestartPolicy.INTERRUPT:
            requeue, message = False, "The process running this job died. Start it again to continue."
        if requeue:
            jobs_repo.transition(session, job.id, JobStatus.RUNNING, JobStatus.QUEUED)
            log.warning("job %s (%s): its owner %s died; queued again", job.id, job.kind, job.owner)
        else:
            status = JobStatus.INTERRUPTED if policy is RestartPolicy.INTERRUPT else JobStatus.FAILED
            jobs_repo.transition(session, job.id, JobStatus.RUNNING, status, error_message=message)
            log.warning("job %s (%s): its owner %s died; %s: %s", job.id, job.kind, job.owner, status.value, message)
        self._ended(session, job.id)

    def _time_out(self, session: Session) -> None:
        """Running jobs whose heartbeat is older than their limit: interrupted, processes killed, queue moves on."""
        now = datetime.now(UTC)
        shortest = min(self.settings.job_heartbeat_timeout_s, self.settings.job_heartbeat_slow_timeout_s)
        for job in jobs_repo.stale_running(session, shortest):
            silent = (now - _aware(job.heartbeat_at)).total_seconds()
            limit = heartbeat_limit(self.settings, job)
            if silent <= limit:
                continue
            message = (
                f"No heartbeat for {silent:.0f} s (limit {limit:.0f} s, LLM_TRAINER_JOB_HEARTBEAT_TIMEOUT_S): "
                "the job hung or its process stopped; it was killed."
            )
            if JobKind(job.kind) is JobKind.TRAIN:
                self.train.hung(session, job, message + " Resume the run to continue from its last checkpoint.")
            else:
                jobs_repo.transition(session, job.id, JobStatus.RUNNING, JobStatus.INTERRUPTED, error_message=message)
                self._ended(session, job.id)
                self.in_flight.pop(job.id, None)
            log.warning("job %s (%s) interrupted: %s", job.id, job.kind, message)
            session.commit()

    def _ended(self, session: Session, job_id: int) -> None:
        """Kinds with a row of their own mirror the job's new status into it."""
        job = jobs_repo.get(session, job_id)
        session.refresh(job)
        hook = self.on_end.get(JobKind(job.kind))
        if hook is not None:
            hook(session, job)

    def _launch_light(self, session: Session) -> None:
        self.in_flight = {jid: t for jid, t in self.in_flight.items() if t.is_alive()}
        if not self.is_server:
            return
        kinds = [kind for kind in LIGHT_KINDS if kind in self.handlers]
        full = {kind for kind in kinds if jobs_repo.count_running(session, kind) >= kind_limit(self.settings, kind)}
        for job in jobs_repo.next_queued(session, kinds):
            if len(self.in_flight) >= self.settings.max_background_jobs:
                return
            if JobKind(job.kind) in full:
                continue  # learnt by a read: no write lock taken to hear "no"
            if not jobs_repo.claim(session, job.id, self.owner, limit=kind_limit(self.settings, JobKind(job.kind))):
                continue
            session.commit()
            session.refresh(job)
            thread = threading.Thread(target=self.run_claimed, args=(job,), name=f"job-{job.id}", daemon=True)
            self.in_flight[job.id] = thread
            thread.start()

    def run_claimed(self, job: Job) -> None:
        """Run a claimed light job to its end; never raises (the outcome is on the job)."""
        ctx = JobContext(self.factory, job, self.owner, self.stopping)
        handler = self.handlers[ctx.kind]
        try:
            result = handler(ctx)
        except Stopping:
            self._requeue(job.id)
            return
        except Exception as exc:  # noqa: BLE001 - recorded on the job for the user
            log.warning("job %s (%s) failed: %s", job.id, job.kind, exc, exc_info=not isinstance(exc, AppError))
            self._finish(job.id, JobStatus.FAILED, error_message=error_text(exc))
            return
        self._finish(job.id, JobStatus.SUCCEEDED, result=result)

    def _finish(self, job_id: int, status: JobStatus, **outcome: object) -> None:
        with session_scope(self.factory) as session:
            if jobs_repo.transition(session, job_id, JobStatus.RUNNING, status, owner=self.owner, **outcome):
                self._ended(session, job_id)
            else:
                log.warning("job %s ended after it was no longer running (timed out?); outcome dropped", job_id)
        self.wake.set()  # a slot is free

    def _requeue(self, job_id: int) -> None:
        """A job its handler gave up on because this process stops: queued again, for this or the next server."""
        with session_scope(self.factory) as session:
            if jobs_repo.give_back(session, job_id, self.owner):
                self._ended(session, job_id)
                log.warning("job %s: the server is stopping; queued again", job_id)

    def run_now(self, job_id: int) -> None:
        """Claim and run one light job in the calling thread (the CLI's file prediction)."""
        with session_scope(self.factory) as session:
            claimed = jobs_repo.claim(session, job_id, self.owner)
            job = jobs_repo.get(session, job_id)
        if claimed:
            self.run_claimed(job)
