"""Background scheduler: starts queued runs as worker processes (FIFO), notices dead workers, enforces stop timeouts."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
from datetime import UTC, datetime

import psutil
from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.core.config import Settings
from llm_trainer.core.run_status import RunStatus
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import Run
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.worker.launch import log_path, nodes_of, tail, worker_command, worker_env

log = logging.getLogger(__name__)

TICK_S = 1.0


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


class RunScheduler:
    """One thread per server: polls the queue once a second (or when woken) and supervises worker processes."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]):
        self.settings = settings
        self.factory = factory
        self.procs: dict[int, subprocess.Popen] = {}
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="run-scheduler", daemon=True)
        self.thread.start()

    def shutdown(self) -> None:
        """Stop scheduling and end this server's workers (they would exit with it anyway): runs become interrupted."""
        self.stopping.set()
        self.wake.set()
        if self.thread:
            self.thread.join(timeout=5)
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
                runs_repo.transition(
                    session,
                    run_id,
                    RunStatus.INTERRUPTED,
                    error_message="The server stopped while this run was training. Resume it to continue.",
                    log_tail=tail(log_path(self.settings.runs_dir, run_id)),
                    finished_at=_now(),
                )
        self.procs.clear()

    def _recorded_outcome(self, run_id: int) -> bool:
        with session_scope(self.factory) as session:
            run = runs_repo.get_run(session, run_id)
            return run is None or run.status not in runs_repo.ACTIVE

    def notify(self) -> None:
        self.wake.set()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the scheduler must survive anything and retry next tick
                log.exception("scheduler tick failed")
            self.wake.wait(TICK_S)
            self.wake.clear()

    def tick(self) -> None:
        with session_scope(self.factory) as session:
            self._reap(session)
            self._enforce_stop_timeouts(session)
            self._launch(session)

    def _reap(self, session: Session) -> None:
        """Runs marked running whose worker is gone become interrupted (killed) or failed (crashed)."""
        for run in runs_repo.active_runs(session):
            proc = self.procs.get(run.id)
            if proc is not None:
                code = proc.poll()
                if code is None:
                    continue
                self.procs.pop(run.id, None)
            elif worker_alive(run.pid, run.id) or self._just_started_elsewhere(run):
                continue  # started by another scheduler (earlier server, CLI); it exits when that owner is gone
            else:
                code = None
            self._mark_ended(session, run, code)
        for run_id, proc in list(self.procs.items()):  # finished workers whose run already ended
            if proc.poll() is not None:
                self.procs.pop(run_id, None)

    @staticmethod
    def _just_started_elsewhere(run: Run) -> bool:
        """Another scheduler (e.g. `llm-trainer train --wait`) set it running and is about to record its pid."""
        started = _aware(run.started_at)
        return run.pid is None and started is not None and (_now() - started).total_seconds() < 30

    def _mark_ended(self, session: Session, run: Run, code: int | None) -> None:
        session.refresh(run)
        if run.status not in runs_repo.ACTIVE:
            return  # the worker recorded its own outcome just before exiting
        if code is None:
            status, message = RunStatus.INTERRUPTED, "The worker process is gone (server restart or crash)."
        elif code < 0:
            status, message = RunStatus.INTERRUPTED, f"The worker was killed (signal {-code})."
        else:
            status, message = RunStatus.FAILED, f"The worker exited with code {code} without finishing."
        if status is RunStatus.INTERRUPTED:
            message += " Resume the run to continue from its last checkpoint."
        runs_repo.transition(
            session,
            run.id,
            status,
            error_message=message,
            log_tail=tail(log_path(self.settings.runs_dir, run.id)),
            finished_at=_now(),
        )
        log.warning("run %s -> %s: %s", run.id, status.value, message)

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
        free = self.settings.max_concurrent_runs - len(runs_repo.active_runs(session))
        for run in runs_repo.queued_runs(session)[: max(0, free)]:
            self._start_worker(session, run)

    def _start_worker(self, session: Session, run: Run) -> None:
        if not runs_repo.transition(session, run.id, RunStatus.RUNNING, started_at=_now(), pid=None, finished_at=None):
            return
        log_file = log_path(self.settings.runs_dir, run.id)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            with log_file.open("ab") as out:
                proc = subprocess.Popen(
                    worker_command(run.id, run.config, nodes_of(self.settings)),
                    env=worker_env(run.config, self.settings.data_dir, self.settings.database_url),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # own process group: a stop kills it whole, a Ctrl-C of the server does not
                )
        except OSError as exc:
            runs_repo.transition(
                session,
                run.id,
                RunStatus.FAILED,
                error_message=f"Could not start the worker: {exc}",
                finished_at=_now(),
            )
            return
        self.procs[run.id] = proc
        runs_repo.update_fields(session, run.id, pid=proc.pid, output_dir=str(log_file.parent.resolve()))
        session.commit()
        log.info("run %s started as pid %s", run.id, proc.pid)
