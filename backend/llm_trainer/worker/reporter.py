"""The worker's side of live progress: batched DB writes, stop requests, system samples and the parent watchdog."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.core.jobs import JobProgress
from llm_trainer.db.base import session_scope
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo

log = logging.getLogger("llm_trainer.worker")

FLUSH_INTERVAL_S = 1.0
SYSTEM_INTERVAL_S = 5.0


class DbReporter:
    """Collects progress and metric points in memory and writes them at most once a second (rank 0 only)."""

    def __init__(self, factory: sessionmaker[Session], run_id: int, job_id: int | None = None, owner: str = ""):
        self.factory = factory
        self.run_id = run_id
        self.job_id, self.owner = job_id, owner  # the train job this worker beats for (None: started by hand)
        self.loop_alive = False  # set by the training loop's calls only: the sampler thread must not beat for it
        self.lock = threading.Lock()
        self.snapshot: dict[str, Any] = {}
        self.rows: list[tuple[str, int, float, dict[str, Any]]] = []
        self.last_flush = 0.0
        self.stop_flag = False
        self.signal_stop = False

    def progress(self, snapshot: dict[str, Any]) -> None:
        self.loop_alive = True
        with self.lock:
            phase_changed = snapshot.get("phase") not in (None, self.snapshot.get("phase"))
            self.snapshot.update(snapshot)
        self.flush(force=phase_changed)

    def metric(self, kind: str, step: int, epoch: float, values: dict[str, Any]) -> None:
        self.loop_alive = self.loop_alive or kind != "system"
        with self.lock:
            self.rows.append((kind, step, epoch, values))
            if kind == "train" and values.get("loss") is not None:
                self.snapshot.update({"loss": values["loss"], "learning_rate": values.get("learning_rate")})
            if kind == "eval":
                self.snapshot["last_eval"] = {"step": step, **values}
        self.flush(force=kind == "eval")

    def stop_requested(self) -> bool:
        self.loop_alive = True
        self.flush()
        return self.stop_flag or self.signal_stop

    def info(self, message: str) -> None:
        log.info(message)

    def flush(self, force: bool = False) -> None:
        """Write pending progress/metrics and refresh the stop flag, unless that happened under a second ago."""
        now = time.monotonic()
        if not force and now - self.last_flush < FLUSH_INTERVAL_S:
            return
        with self.lock:
            self.last_flush = now
            snapshot, rows = dict(self.snapshot), self.rows
            self.rows = []
            beat, self.loop_alive = self.loop_alive, False
        try:
            self._write(snapshot, rows, beat)
        except OperationalError as exc:  # e.g. "database is locked" by a long upload: keep the points, retry later
            log.warning("progress not written (%s); retrying at the next step", exc.orig)
            with self.lock:
                self.rows = rows + self.rows
                self.loop_alive = self.loop_alive or beat

    def write_pending(self, session: Session) -> None:
        """Write what is pending inside the caller's transaction: the run's last progress (its version id) commits
        with its final status instead of being dropped by a write that met a locked database."""
        with self.lock:
            snapshot, rows = dict(self.snapshot), self.rows
            self.rows = []
        self._write_in(session, snapshot, rows, beat=False)

    def _write(self, snapshot: dict[str, Any], rows: list[tuple[str, int, float, dict[str, Any]]], beat: bool) -> None:
        with session_scope(self.factory) as session:
            self._write_in(session, snapshot, rows, beat)

    def _write_in(
        self, session: Session, snapshot: dict[str, Any], rows: list[tuple[str, int, float, dict[str, Any]]], beat: bool
    ) -> None:
        runs_repo.merge_progress(session, self.run_id, {**snapshot, "updated_at": time.time()})
        runs_repo.add_metrics(session, self.run_id, rows)
        self.stop_flag = runs_repo.is_stop_requested(session, self.run_id)
        if beat and self.job_id is not None:
            progress = JobProgress(
                done=int(snapshot.get("step") or 0),
                total=int(snapshot.get("total_steps") or 0),
                message=str(snapshot.get("phase") or ""),
            )
            jobs_repo.heartbeat(session, self.job_id, self.owner, progress.model_dump())


class NullReporter:
    """For data-parallel ranks other than 0: they train but report nothing (rank 0 decides when to stop)."""

    def progress(self, snapshot: dict[str, Any]) -> None:
        pass

    def metric(self, kind: str, step: int, epoch: float, values: dict[str, Any]) -> None:
        pass

    def stop_requested(self) -> bool:
        return False

    def info(self, message: str) -> None:
        log.info(message)

    def flush(self, force: bool = False) -> None:
        pass

    def write_pending(self, session: Session) -> None:
        pass


def install_sigterm(reporter: DbReporter | NullReporter) -> None:
    """SIGTERM asks for a graceful stop (finish the step, evaluate, save), like the stop button."""

    def _handler(_signum: int, _frame: Any) -> None:
        log.warning("SIGTERM received: stopping after the current step")
        if isinstance(reporter, DbReporter):
            reporter.signal_stop = True

    signal.signal(signal.SIGTERM, _handler)


def start_system_sampler(reporter: DbReporter) -> threading.Thread:
    """Every few seconds record CPU %, RAM and GPU memory as `system` metric points."""
    import psutil

    proc = psutil.Process()
    proc.cpu_percent(None)
    psutil.cpu_percent(None)

    def _loop() -> None:
        while True:
            time.sleep(SYSTEM_INTERVAL_S)
            try:
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
                values: dict[str, Any] = {
                    "cpu_percent": psutil.cpu_percent(None),
                    "process_cpu_percent": proc.cpu_percent(None),
                    "rss_mb": round(rss / 2**20, 1),
                    "ram_used_percent": psutil.virtual_memory().percent,
                }
                values.update(_gpu_memory())
                step = int(reporter.snapshot.get("step") or 0)
                reporter.metric("system", step, float(reporter.snapshot.get("epoch") or 0.0), values)
                reporter.flush()
            except Exception:  # noqa: BLE001 - sampling must never take the run down
                log.debug("system sample failed", exc_info=True)

    thread = threading.Thread(target=_loop, name="system-sampler", daemon=True)
    thread.start()
    return thread


def _gpu_memory() -> dict[str, float]:
    import sys

    torch = sys.modules.get("torch")  # only when training already imported it
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return {}
    return {
        "gpu_mem_allocated_mb": round(torch.cuda.memory_allocated() / 2**20, 1),
        "gpu_mem_reserved_mb": round(torch.cuda.memory_reserved() / 2**20, 1),
    }


ORPHAN_RECORD_S = 5.0


def start_parent_watchdog(parent_pid: int | None, on_orphan: Any) -> threading.Thread | None:
    """Exit when the server that launched this worker dies (a run must not outlive its owner unnoticed)."""
    if not parent_pid:
        return None
    import psutil

    try:
        created = psutil.Process(parent_pid).create_time()
    except psutil.Error:
        created = None

    def _alive() -> bool:
        try:
            return created is not None and psutil.Process(parent_pid).create_time() == created
        except psutil.Error:
            return False

    def _loop() -> None:
        while _alive():
            time.sleep(1.0)
        log.error("server process %s is gone: stopping this worker", parent_pid)
        # Recording the outcome may wait on a lock this very process holds (a version row not yet committed):
        # give it a few seconds, then exit anyway; the next server start reconciles a run left running.
        recorder = threading.Thread(target=on_orphan, name="orphan-record", daemon=True)
        recorder.start()
        recorder.join(ORPHAN_RECORD_S)
        os._exit(3)

    thread = threading.Thread(target=_loop, name="parent-watchdog", daemon=True)
    thread.start()
    return thread
