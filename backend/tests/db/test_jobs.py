"""The jobs table: one claim wins among racing processes, the lifecycle refuses impossible moves, an upgrade carries
today's runs, batch jobs and exports over as jobs."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text, update

from llm_trainer.core.jobs import (
    RESTART_POLICY,
    BatchPredictParams,
    ExportParams,
    InvalidJobTransition,
    JobKind,
    JobResult,
    JobStatus,
    TrainParams,
)
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.migrate import upgrade_to_head
from llm_trainer.db.models import Job, ModelVersion
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.services.job_records import job_of_run
from tests.helpers.old_db import old_database


@pytest.fixture
def db(settings):
    """(what make_engine opens, session factory) on the test's SQLite file or PostgreSQL database."""
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    yield settings.database, make_session_factory(engine)
    engine.dispose()


def _claim_in_new_process(target: str, owner: str) -> list[int]:
    engine = make_engine(target if "://" in target else Path(target))
    factory = make_session_factory(engine)
    won = []
    with session_scope(factory) as session:
        candidates = [job.id for job in jobs_repo.next_queued(session, [JobKind.TRAIN])]
    for job_id in candidates:
        with session_scope(factory) as session:
            if jobs_repo.claim(session, job_id, owner):
                won.append(job_id)
    engine.dispose()
    return won


def test_racing_processes_never_start_the_same_job_twice(db) -> None:
    path, factory = db
    with session_scope(factory) as session:
        ids = [jobs_repo.submit(session, JobKind.TRAIN, TrainParams(run_id=i)).id for i in range(1, 6)]
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        results = list(pool.map(_claim_in_new_process, [str(path)] * 4, [f"proc-{i}" for i in range(4)]))
    claimed = [job_id for won in results for job_id in won]
    assert sorted(claimed) == ids  # every job claimed exactly once
    with session_scope(factory) as session:
        for job_id, owner in zip(claimed, [f"proc-{i}" for i, won in enumerate(results) for _ in won], strict=True):
            job = jobs_repo.get(session, job_id)
            assert (job.status, job.owner, job.attempts) == ("running", owner, 1)
        if session.bind.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def test_a_finished_job_cannot_be_restarted_and_only_its_owner_can_finish_it(db) -> None:
    _, factory = db
    with session_scope(factory) as session:
        job_id = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=3, variant="onnx_fp32")).id
        assert jobs_repo.claim(session, job_id, "a")
        assert not jobs_repo.claim(session, job_id, "b")
        assert not jobs_repo.heartbeat(session, job_id, "b")
        assert not jobs_repo.transition(session, job_id, JobStatus.RUNNING, JobStatus.SUCCEEDED, owner="b")
        done = JobResult(version_id=3)
        assert jobs_repo.transition(session, job_id, JobStatus.RUNNING, JobStatus.SUCCEEDED, owner="a", result=done)
        with pytest.raises(InvalidJobTransition, match="succeeded to queued"):
            jobs_repo.transition(session, job_id, JobStatus.SUCCEEDED, JobStatus.QUEUED)
        job = jobs_repo.get(session, job_id)
        session.refresh(job)
        assert (job.status, job.result["version_id"], job.finished_at is not None) == ("succeeded", 3, True)


def test_a_job_whose_heartbeat_stopped_is_found_stale_and_can_be_interrupted(db) -> None:
    _, factory = db
    with session_scope(factory) as session:
        hung = jobs_repo.submit(session, JobKind.TRAIN, TrainParams(run_id=1)).id
        alive = jobs_repo.submit(session, JobKind.TRAIN, TrainParams(run_id=2)).id
        assert jobs_repo.claim(session, hung, "w1") and jobs_repo.claim(session, alive, "w2")
        old = datetime.now(UTC) - timedelta(seconds=300)
        session.execute(update(Job).where(Job.id == hung).values(heartbeat_at=old))
        assert jobs_repo.heartbeat(session, alive, "w2", progress={"done": 3, "total": 10, "message": ""})
        assert [job.id for job in jobs_repo.stale_running(session, timeout_s=120)] == [hung]
        msg = "No heartbeat for 300 s: the worker hung."
        assert jobs_repo.transition(session, hung, JobStatus.RUNNING, JobStatus.INTERRUPTED, error_message=msg)
        assert jobs_repo.transition(session, hung, JobStatus.INTERRUPTED, JobStatus.QUEUED)  # resume
        assert jobs_repo.claim(session, hung, "w3")


def test_params_of_the_wrong_kind_are_refused_before_anything_is_written(db) -> None:
    _, factory = db
    with session_scope(factory) as session:
        with pytest.raises(ValidationError):
            jobs_repo.submit(session, JobKind.TRAIN, ExportParams(version_id=1, variant="onnx_fp32"))
        assert jobs_repo.list_jobs(session) == []
    assert set(RESTART_POLICY) == set(JobKind)  # every kind declares what a restart does with it


def test_upgrade_carries_runs_batch_jobs_and_exports_over_as_jobs(tmp_path: Path) -> None:
    exports = {"variants": {"onnx_fp32": {"status": "ready"}, "onnx_int8": {"status": "building"}}}
    engine = old_database(
        tmp_path / "old.sqlite3",
        "0002",
        "INSERT INTO runs (id, name, base_model, config, status, stop_requested, device, output_dir, progress,"
        " error_message, log_tail, resume_count, created_at, queued_at, started_at, finished_at) VALUES "
        "(7, 'r', 'tiny', '{}', 'failed', 0, 'cpu', 'runs/7', '{\"step\": 4}', 'OOM', '', 0, "
        "'2026-01-01 10:00:00', '2026-01-01 10:00:00', '2026-01-01 10:01:00', '2026-01-01 10:02:00')",
        (
            "INSERT INTO model_versions (id, name, run_id, kind, base_model, status, path, labels, metrics, "
            "config, lineage, exports, is_default, size_bytes, created_at) VALUES (5, 'v', 7, 'transformer', "
            "'tiny', 'succeeded', 'models/5', '[]', '{}', '{}', '{}', :exports, 0, 10, '2026-01-02 00:00:00')",
            {"exports": json.dumps(exports)},
        ),
        "INSERT INTO batch_jobs (id, model_id, status, filename, input_path, output_path, total, done, "
        "metrics, error_message, created_at, finished_at) VALUES (2, 5, 'succeeded', 'a.csv', 'batch/2.csv',"
        " 'batch/2.out.csv', 9, 9, '{\"rows_per_s\": 3.5}', '', '2026-01-03 00:00:00', '2026-01-03 00:01:00')",
    )
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        jobs = {(job.kind, job.params.get("variant")): job for job in jobs_repo.list_jobs(session)}
        assert len(jobs) == 4
        train = jobs[("train", None)]
        assert (train.status, train.params, train.error_message, train.progress) == (
            "failed", {"run_id": 7}, "OOM", {"step": 4},
        )  # fmt: skip
        assert train.started_at is not None and train.finished_at is not None
        batch = jobs[("batch_predict", None)]
        assert BatchPredictParams.model_validate(batch.params).input_path == "batch/2.csv"
        assert (batch.status, batch.progress["done"], batch.result["metrics"]) == ("succeeded", 9, {"rows_per_s": 3.5})
        assert jobs[("export", "onnx_fp32")].status == "succeeded"
        assert jobs[("export", "onnx_int8")].status == "interrupted"  # its builder died with the old server
        if session.bind.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()


def test_a_deleted_version_id_is_never_reused_and_the_upgrade_keeps_batch_links(tmp_path: Path) -> None:
    engine = old_database(
        tmp_path / "old.sqlite3",
        "0003",
        "INSERT INTO model_versions (id, name, kind, base_model, status, path, labels, metrics, config, lineage, "
        "exports, is_default, size_bytes, created_at, task) VALUES (1, 'a', 'tfidf', 'tfidf', 'succeeded', "
        "'models/1', '[]', '{}', '{}', '{}', '{}', 0, 1, '2026-01-01 00:00:00', 'classification')",
        "INSERT INTO batch_jobs (id, model_id, status, filename, input_path, output_path, total, done, metrics, "
        "error_message, created_at) VALUES (1, 1, 'succeeded', 'a.csv', '', '', 0, 0, '{}', '', '2026-01-01 00:00:00')",
    )
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        assert session.execute(text("SELECT model_id FROM batch_jobs WHERE id = 1")).scalar() == 1
        second = ModelVersion(name="b", path="models/2")
        session.add(second)
        session.flush()
        assert second.id == 2
        session.delete(second)
    with session_scope(factory) as session:
        third = ModelVersion(name="c", path="models/3")
        session.add(third)
        session.flush()
        assert third.id == 3, "the deleted id 2 is not handed out again"
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert session.execute(text("PRAGMA foreign_key_check")).all() == []
    engine.dispose()


def test_upgrade_gives_each_run_without_a_train_job_one_and_reading_a_runs_job_writes_nothing(tmp_path: Path) -> None:
    run_sql = (
        "INSERT INTO runs (id, name, base_model, config, status, stop_requested, device, output_dir, progress,"
        " error_message, log_tail, resume_count, created_at, queued_at, task) VALUES "
        "({id}, 'r', 'tfidf', '{{}}', '{status}', 0, 'cpu', '', '{{}}', '', '', 0, "
        "'2026-01-01 10:00:00', '2026-01-01 10:00:00', 'classification')"
    )
    engine = old_database(
        tmp_path / "old.sqlite3",
        "0004",
        run_sql.format(id=1, status="succeeded"),
        "INSERT INTO jobs (kind, status, params, result, progress, error_message, owner, attempts, log_path, "
        "created_at) VALUES ('train', 'succeeded', '{\"run_id\": 1}', '{}', '{}', '', '', 1, '', '2026-01-01')",
        run_sql.format(id=2, status="queued"),  # queued by an older CLI after 0003: no job
        run_sql.format(id=3, status="running"),  # ...and its process is gone
    )
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        train = {job.params["run_id"]: job.status for job in jobs_repo.list_jobs(session, JobKind.TRAIN)}
        assert train == {1: "succeeded", 2: "queued", 3: "interrupted"}, "one job per run, none twice"
        assert job_of_run(session, 2).status == "queued"
        session.execute(text("DELETE FROM jobs WHERE kind = 'train' AND id = (SELECT max(id) FROM jobs)"))
        assert job_of_run(session, 3) is None and len(jobs_repo.list_jobs(session)) == 2, "a read creates nothing"
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    engine.dispose()
