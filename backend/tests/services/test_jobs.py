"""The job dispatcher on a real SQLite file: the light pool and per-kind limits hold, a silent job is interrupted,
each kind's restart policy applies to jobs whose owner died."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psutil
from sqlalchemy import event, text, update

from llm_trainer.core.jobs import BatchPredictParams, ExportParams, JobKind, JobResult, JobStatus
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import Job
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.services.job_records import submit_run
from llm_trainer.services.jobs import JobContext, JobDispatcher
from tests.helpers.versions import make_version


def _dead_owner() -> str:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    return f"{socket.gethostname()}:{dead.pid}:0"


@contextmanager
def _live_owner() -> Iterator[str]:
    """A job owner string of another live process of this machine, alive for the block."""
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        yield f"{socket.gethostname()}:{alive.pid}:{int(psutil.Process(alive.pid).create_time())}"
    finally:
        alive.kill()
        alive.wait()


def _statuses(factory) -> dict[int, str]:
    with session_scope(factory) as session:
        return {job.id: job.status for job in jobs_repo.list_jobs(session)}


def _assert_healthy(factory) -> None:
    with session_scope(factory) as session:
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert not jobs_repo.running(session), "no job is left running"


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_light_jobs_beyond_the_pool_and_kind_limits_wait_their_turn(factory, settings):
    settings = settings.model_copy(update={"max_background_jobs": 2, "max_concurrent_exports": 1})
    running: dict[JobKind, int] = {JobKind.BATCH_PREDICT: 0, JobKind.EXPORT: 0}
    most = dict(running)
    lock, release = threading.Lock(), threading.Event()

    def work(ctx: JobContext) -> JobResult:
        with lock:
            running[ctx.kind] += 1
            most[ctx.kind] = max(most[ctx.kind], running[ctx.kind])
            together = sum(running.values())
            most[JobKind.TRAIN] = max(most.get(JobKind.TRAIN, 0), together)  # the pool as a whole
        release.wait(10)
        with lock:
            running[ctx.kind] -= 1
        return JobResult()

    dispatcher = JobDispatcher(settings, factory)
    dispatcher.register(JobKind.BATCH_PREDICT, work)
    dispatcher.register(JobKind.EXPORT, work)
    with session_scope(factory) as session:
        for i in range(3):
            jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=i, variant="onnx"))
            jobs_repo.submit(session, JobKind.BATCH_PREDICT, BatchPredictParams(batch_job_id=i))
    for _ in range(5):
        dispatcher.tick()
    time.sleep(0.3)  # time for any job that ignored a limit to start
    assert running[JobKind.EXPORT] == 1 and sum(running.values()) == 2
    release.set()
    for _ in range(100):
        dispatcher.tick()
        if set(_statuses(factory).values()) == {"succeeded"}:
            break
        time.sleep(0.05)
    assert set(_statuses(factory).values()) == {"succeeded"}
    assert most[JobKind.EXPORT] == 1 and most[JobKind.TRAIN] == 2
    dispatcher.shutdown()
    _assert_healthy(factory)


def test_a_silent_light_job_is_interrupted_and_the_queue_moves_on(factory, settings):
    settings = settings.model_copy(update={"max_background_jobs": 1, "job_heartbeat_timeout_s": 1.0})
    hang, seen = threading.Event(), []

    def work(ctx: JobContext) -> JobResult:
        seen.append(ctx.job_id)
        ctx.beat(0, 10, "predicting")  # a normal phase: the short limit applies
        if len(seen) == 1:
            hang.wait(20)  # hangs without beating
        return JobResult()

    dispatcher = JobDispatcher(settings, factory)
    dispatcher.register(JobKind.BATCH_PREDICT, work)
    with session_scope(factory) as session:
        first = jobs_repo.submit(session, JobKind.BATCH_PREDICT, BatchPredictParams(batch_job_id=1)).id
        second = jobs_repo.submit(session, JobKind.BATCH_PREDICT, BatchPredictParams(batch_job_id=2)).id
    dispatcher.tick()
    _wait(lambda: seen == [first])
    time.sleep(1.5)
    dispatcher.tick()  # times the first out
    with session_scope(factory) as session:
        job = jobs_repo.get(session, first)
        assert job.status == "interrupted" and "No heartbeat" in job.error_message
    dispatcher.tick()  # the hung thread no longer holds the only slot
    _wait(lambda: _statuses(factory)[second] == "succeeded")
    hang.set()
    time.sleep(0.2)
    assert _statuses(factory)[first] == "interrupted", "a late finish does not overwrite the time-out"
    dispatcher.shutdown()
    _assert_healthy(factory)


def test_jobs_of_a_dead_owner_follow_their_kinds_restart_policy(factory, settings, tmp_path):
    kept = tmp_path / "input.csv"
    kept.write_text("评论\n好吃\n", encoding="utf-8")
    with session_scope(factory) as session:
        batch_kept = jobs_repo.submit(
            session, JobKind.BATCH_PREDICT, BatchPredictParams(batch_job_id=1, input_path=str(kept))
        ).id
        batch_lost = jobs_repo.submit(
            session, JobKind.BATCH_PREDICT, BatchPredictParams(batch_job_id=2, input_path=str(tmp_path / "gone"))
        ).id
        export_once = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=1, variant="onnx")).id
        export_twice = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=2, variant="onnx")).id
        owner = _dead_owner()
        for job_id in (batch_kept, batch_lost, export_once, export_twice):
            assert jobs_repo.claim(session, job_id, owner)
        session.execute(update(Job).where(Job.id == export_twice).values(attempts=2))
    dispatcher = JobDispatcher(settings, factory)  # no handlers: only the reconciliation at start runs
    with session_scope(factory) as session:
        assert sorted(dispatcher.reconcile(session)) == sorted([batch_kept, batch_lost, export_once, export_twice])
    with session_scope(factory) as session:
        jobs = {job.id: job for job in jobs_repo.list_jobs(session)}
        assert (jobs[batch_kept].status, jobs[batch_kept].owner) == ("queued", "")
        assert jobs[batch_lost].status == "failed" and "Upload the file again" in jobs[batch_lost].error_message
        assert jobs[export_once].status == "queued"
        assert jobs[export_twice].status == "failed" and "died twice" in jobs[export_twice].error_message
    _assert_healthy(factory)


def test_a_job_of_a_live_owner_is_left_alone_until_its_heartbeat_stops(factory, settings):
    settings = settings.model_copy(update={"job_heartbeat_timeout_s": 60.0, "job_heartbeat_slow_timeout_s": 600.0})
    with _live_owner() as owner:
        with session_scope(factory) as session:
            job_id = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=1, variant="onnx")).id
            assert jobs_repo.claim(session, job_id, owner)
        dispatcher = JobDispatcher(settings, factory)
        dispatcher.tick()
        assert _statuses(factory)[job_id] == "running"  # live owner, fresh heartbeat ("starting": slow limit)
        with session_scope(factory) as session:
            old = datetime.now(UTC) - timedelta(seconds=601)
            session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=old))
        dispatcher.tick()
        with session_scope(factory) as session:
            job = jobs_repo.get(session, job_id)
            assert job.status == "interrupted" and "limit 600 s" in job.error_message
    _assert_healthy(factory)


def test_a_run_timing_its_budget_steps_gets_the_slow_heartbeat_limit_and_a_training_one_does_not(factory, settings):
    settings = settings.model_copy(update={"job_heartbeat_timeout_s": 60.0, "job_heartbeat_slow_timeout_s": 600.0})
    with _live_owner() as owner:
        ids = {}
        with session_scope(factory) as session:
            for phase in ("measuring", "training"):
                job = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=1, variant="onnx"))
                assert jobs_repo.claim(session, job.id, owner)
                ids[phase] = job.id
            old = datetime.now(UTC) - timedelta(seconds=200)
            for phase, job_id in ids.items():
                values = {"heartbeat_at": old, "progress": {"message": phase}}
                session.execute(update(Job).where(Job.id == job_id).values(**values))
        JobDispatcher(settings, factory).tick()
        statuses = _statuses(factory)
        assert statuses[ids["measuring"]] == "running", "200 s of timing steps is within the slow limit"
        assert statuses[ids["training"]] == "interrupted", "200 s without a training step is not"


def test_orphans_of_dead_processes_are_swept_at_start_and_listed(factory, settings, caplog):
    settings.ensure_dirs()
    (settings.models_dir / ".tmp-run7-abcd1234").mkdir()  # a version a dead worker was writing
    (settings.models_dir / "3" / "exports" / "onnx.partial").mkdir(parents=True)  # an export cut short
    (settings.models_dir / "3" / "exports" / "onnx").mkdir()  # ...of a version whose row never committed
    (settings.uploads_dir / "batch" / "deadbeef").mkdir(parents=True)  # files of a deleted batch job
    (settings.runs_dir / "99" / "checkpoints").mkdir(parents=True)  # checkpoints of a run that is gone
    kept = make_version(settings)  # a real version stays
    with caplog.at_level("WARNING", logger="llm_trainer.services.jobs"):
        dispatcher = JobDispatcher(settings, factory)
        dispatcher.start()
        dispatcher.shutdown()
    assert not (settings.models_dir / ".tmp-run7-abcd1234").exists()
    assert not (settings.models_dir / "3" / "exports" / "onnx.partial").exists()
    assert not (settings.models_dir / "3").exists(), "a version folder whose row never committed goes"
    assert (settings.models_dir / str(kept) / "llm_trainer.json").is_file()
    assert not (settings.uploads_dir / "batch" / "deadbeef").exists()
    assert not (settings.runs_dir / "99" / "checkpoints").exists()
    assert caplog.text.count("removed orphan") == 5


def test_while_the_run_limit_is_full_a_tick_only_reads(factory, settings):
    with _live_owner() as owner:
        with session_scope(factory) as session:  # another live process trains run 1; run 2 waits its turn
            busy = runs_repo.create_run(session, base_model="tfidf")
            busy.status = "running"
            assert jobs_repo.claim(session, submit_run(session, busy).id, owner)
            waiting = runs_repo.create_run(session, base_model="tfidf")
            waiting_job = submit_run(session, waiting).id
        writes: list[str] = []

        def record(_conn, _cursor, statement: str, *_args) -> None:
            if statement.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
                writes.append(statement)

        engine = factory.kw["bind"]
        event.listen(engine, "before_cursor_execute", record)
        dispatcher = JobDispatcher(settings, factory)  # max_concurrent_runs = 1
        for _ in range(3):
            dispatcher.tick()
        event.remove(engine, "before_cursor_execute", record)
        assert writes == [], "no write lock is taken to learn that the limit is full"
        assert _statuses(factory)[waiting_job] == "queued"


def test_on_a_cpu_a_queued_run_waits_while_an_export_builds_on_this_machine_then_starts(factory, settings):
    with _live_owner() as owner:
        with session_scope(factory) as session:  # another process of this machine builds a fast copy
            export_id = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=1, variant="onnx")).id
            assert jobs_repo.claim(session, export_id, owner)
            run_job = submit_run(session, runs_repo.create_run(session, base_model="tfidf")).id
        dispatcher = JobDispatcher(settings, factory)
        for _ in range(3):
            dispatcher.tick()
        assert _statuses(factory)[run_job] == "queued", "its budget timing would share the cores with the export"
        with session_scope(factory) as session:
            jobs_repo.transition(session, export_id, JobStatus.RUNNING, JobStatus.SUCCEEDED)
        dispatcher.tick()
        assert _statuses(factory)[run_job] != "queued", "the run starts once the export is done"
        _wait(lambda: _statuses(factory)[run_job] in ("succeeded", "failed"), timeout=60)
