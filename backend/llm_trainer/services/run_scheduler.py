"""The dispatcher's training part: start claimed runs as worker processes (FIFO), notice dead workers, enforce stop
timeouts, kill hung workers."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
from datetime import UTC, datetime

import psutil
from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.core.config import Settings
from llm_trainer.core.jobs import JobKind, JobStatus
from llm_trainer.core.run_status import RunStatus
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import Job, Run
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.services.hardware import has_accelerator
from llm_trainer.services.job_records import job_of_run, move_run, owner_alive, process_owner, run_id_of
from llm_trainer.worker.launch import JOB_ID_ENV, JOB_OWNER_ENV, log_path, nodes_of, tail, worker_command, worker_env

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def worker_alive(pid: int | None, run_id: int) -> bool:
    """True when `pid` is still a worker (or its torchrun launcher) for this run, not a recycled pid."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmd = proc.cmdline()
    except psutil.Error:
        return False
    return "llm_trainer.worker" in cmd and str(run_id) in cmd


def kill_worker(pid: int | None, run_id: int) -> bool:
    """SIGKILL the worker's whole process group (torchrun and its ranks included)."""
    if not worker_alive(pid, run_id):
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    log.warning("run %s: killed worker process group %s", run_id, pid)
    return True


class TrainSupervisor:
    """No thread of its own: the dispatcher ticks it. Holds the worker processes this process started."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], only: set[int] | None = None):
        self.settings = settings
        self.factory = factory
        self.only = only  # `llm-trainer train --wait` without a server: claim these runs' jobs and no other
        self.procs: dict[int, subprocess.Popen] = {}

    def shutdown(self) -> None:
        """End this process's workers (they would exit with it anyway): runs become interrupted."""
        ended = []
        for run_id, proc in list(self.procs.items()):
            if proc.poll() is None and self._recorded_outcome(run_id):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)  # it already recorded its outcome and is only tidying up
            if proc.poll() is None:
                kill_worker(proc.pid, run_id)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
                ended.append(run_id)
        with session_scope(self.factory) as session:
            for run_id in ended:
                self.end_run(
                    session, run_id, RunStatus.INTERRUPTED,
                    "The server stopped while this run was training. Resume it to continue.",
                )  # fmt: skip
        self.procs.clear()

    def _recorded_outcome(self, run_id: int) -> bool:
        with session_scope(self.factory) as session:
            run = runs_repo.get_run(session, run_id)
            return run is None or run.status not in runs_repo.ACTIVE

    def tick(self, session: Session) -> None:
        self.reap(session)
        self._enforce_stop_timeouts(session)
        self._launch(session)

    def reap(self, session: Session) -> None:
        """Runs marked running whose worker is gone become interrupted (killed) or failed (crashed)."""
        for run in runs_repo.active_runs(session):
            proc = self.procs.get(run.id)
            if proc is not None:
                code = proc.poll()
                if code is None:
                    continue
                self.procs.pop(run.id, None)
            else:
                job = job_of_run(session, run.id)
                owner = job.owner if job is not None else ""
                if owner != process_owner() and owner_alive(owner) is not False:
                    continue  # another live process owns it (a CLI, another host); heartbeats watch it
                kill_worker(run.pid, run.id)  # the train restart policy: no orphan keeps training unowned
                code = None
            self._mark_ended(session, run, code)
        for run_id, proc in list(self.procs.items()):  # finished workers whose run already ended
            if proc.poll() is not None:
                self.procs.pop(run_id, None)

    def _mark_ended(self, session: Session, run: Run, code: int | None) -> None:
        session.refresh(run)
        if run.status not in runs_repo.ACTIVE:
            return  # the worker recorded its own outcome just before exiting
        if code is None:
            status = RunStatus.INTERRUPTED
            message = "The process that started this run is gone (server restart or crash)."
        elif code < 0:
            status, message = RunStatus.INTERRUPTED, f"The worker was killed (signal {-code})."
        else:
            status, message = RunStatus.FAILED, f"The worker exited with code {code} without finishing."
        if status is RunStatus.INTERRUPTED:
            message += " Resume the run to continue from its last checkpoint."
        self.end_run(session, run.id, status, message)

    def end_run(self, session: Session, run_id: int, status: RunStatus, message: str) -> bool:
        moved = move_run(
            session,
            run_id,
            status,
            error_message=message,
            log_tail=tail(log_path(self.settings.runs_dir, run_id)),
            finished_at=_now(),
        )
        if moved:
            log.warning("run %s -> %s: %s", run_id, status.value, message)
        return moved

    def hung(self, session: Session, job: Job, message: str) -> None:
        """A train job whose heartbeat stopped: kill its process group, mark the run (and job) interrupted."""
        run_id = run_id_of(job)
        run = runs_repo.get_run(session, run_id)
        if run is not None:
            kill_worker(run.pid, run_id)
            proc = self.procs.pop(run_id, None)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
        if run is None or not self.end_run(session, run_id, RunStatus.INTERRUPTED, message):
            jobs_repo.transition(session, job.id, JobStatus.RUNNING, JobStatus.INTERRUPTED, error_message=message)

    def _enforce_stop_timeouts(self, session: Session) -> None:
        """Kill workers that did not reach a step boundary within stop_timeout_s of the first stop."""
        for run in runs_repo.active_runs(session):
            requested = _aware(run.stop_requested_at)
            if run.status != RunStatus.STOPPING.value or requested is None:
                continue
            if (run.progress or {}).get("stop_acknowledged"):
                continue  # the worker stopped at a step boundary and is evaluating/saving: give it the time
            if (_now() - requested).total_seconds() > self.settings.stop_timeout_s:
                kill_worker(run.pid, run.id)

    def _launch(self, session: Session) -> None:
        """Claim queued runs' jobs in the runs' FIFO order, up to max_concurrent_runs across all processes. While the
        limit is full a tick only reads (the claim's compare-and-set would take SQLite's write lock to say no)."""
        if jobs_repo.count_running(session, JobKind.TRAIN) >= self.settings.max_concurrent_runs:
            return
        if jobs_repo.count_running(session, JobKind.EXPORT, socket.gethostname()) and not has_accelerator():
            # A CPU run times its first steps to plan its budget: an export tracing on the same cores made a step
            # look four times slower and cut the texts for nothing. The run starts once the export is done.
            return
        for run in runs_repo.queued_runs(session):
            if self.only is not None and run.id not in self.only:
                continue
            job = job_of_run(session, run.id)
            if job is None:
                continue  # not a job system run (no migration or submit made one): nothing may start it
            claimed = jobs_repo.claim(session, job.id, process_owner(), limit=self.settings.max_concurrent_runs)
            session.commit()
            if not claimed:
                session.refresh(job)
                if job.status == JobStatus.QUEUED.value:
                    break  # the limit is reached: later runs wait their turn
                continue
            session.refresh(job)
            self._start_worker(session, run, job)

    def _start_worker(self, session: Session, run: Run, job: Job) -> None:
        if not move_run(session, run.id, RunStatus.RUNNING, started_at=_now(), pid=None, finished_at=None):
            jobs_repo.transition(session, job.id, JobStatus.RUNNING, JobStatus.QUEUED)  # the run left the queue
            return
        log_file = log_path(self.settings.runs_dir, run.id)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = worker_env(run.config, self.settings.data_dir, self.settings.database_url)
        env.update({JOB_ID_ENV: str(job.id), JOB_OWNER_ENV: process_owner()})
        try:
            with log_file.open("ab") as out:
                proc = subprocess.Popen(
                    worker_command(run.id, run.config, nodes_of(self.settings)),
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # own process group: a stop kills it whole, a Ctrl-C of the server does not
                )
        except OSError as exc:
            self.end_run(session, run.id, RunStatus.FAILED, f"Could not start the worker: {exc}")
            return
        self.procs[run.id] = proc
        runs_repo.update_fields(session, run.id, pid=proc.pid, output_dir=str(log_file.parent.resolve()))
        jobs_repo.set_log_path(session, job.id, str(log_file.resolve()))
        session.commit()
        log.info("run %s (job %s) started as pid %s", run.id, job.id, proc.pid)
