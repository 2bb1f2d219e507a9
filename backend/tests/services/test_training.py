"""Training use cases without workers: validation before queueing, queue order, cancel/resume rules, crash recovery."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from llm_trainer.core.errors import Conflict, InvalidInput
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import Run
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.services import training
from llm_trainer.services.job_records import job_of_run
from llm_trainer.services.jobs import JobDispatcher
from tests.helpers.training_data import insert_dataset, review_rows


@pytest.fixture
def dataset_id(factory) -> int:
    return insert_dataset(factory, review_rows(30))


def _queue(factory, settings, dataset_id, model, **config) -> int:
    with session_scope(factory) as session:
        return training.create_run(
            session, settings, dataset_id=dataset_id, base_model=str(model), config=TrainingConfig(**config)
        ).id


def test_validation_names_the_field_and_the_fix(factory, settings, dataset_id, tiny_model_dir):
    with session_scope(factory) as session:
        with pytest.raises(InvalidInput) as missing:
            training.create_run(session, settings, dataset_id=77, base_model="tfidf", config=TrainingConfig())
        assert missing.value.details["field"] == "dataset_id"
        with pytest.raises(InvalidInput) as outside:
            training.create_run(
                session, settings, dataset_id=dataset_id, base_model="/nowhere", config=TrainingConfig()
            )
        assert outside.value.details["field"] == "base_model" and "LLM_TRAINER_MODEL_ROOTS" in outside.value.message
        with pytest.raises(InvalidInput) as missing_folder:
            training.create_run(
                session, settings, dataset_id=dataset_id, base_model=str(tiny_model_dir.parent / "nowhere"),
                config=TrainingConfig(),
            )  # fmt: skip
        assert missing_folder.value.details["field"] == "base_model"
        assert "does not exist" in missing_folder.value.message
        with pytest.raises(InvalidInput) as own_split:
            training.create_run(
                session, settings, dataset_id=dataset_id, base_model=str(tiny_model_dir),
                config=TrainingConfig(validation_source="dataset"),
            )  # fmt: skip
        assert own_split.value.details["field"] == "config.validation_source"
        assert runs_repo.count_runs(session) == 0


def test_queue_is_fifo_and_cancel_resume_follow_the_lifecycle(factory, settings, dataset_id, tiny_model_dir):
    ids = [_queue(factory, settings, dataset_id, tiny_model_dir, run_name=f"r{i}") for i in range(3)]
    with session_scope(factory) as session:
        assert [r.id for r in training.queue_status(session)["queue"]] == ids
        assert runs_repo.queue_positions(session) == {ids[0]: 1, ids[1]: 2, ids[2]: 3}
        assert training.stop_run(session, ids[1]).status == "cancelled"  # stopping a queued run cancels it
        with pytest.raises(Conflict):
            training.cancel_run(session, ids[1])
        with pytest.raises(Conflict):
            training.resume_run(session, ids[0])  # queued, not stopped/interrupted
        with pytest.raises(Conflict):
            training.stop_current(session)
        assert runs_repo.queue_positions(session) == {ids[0]: 1, ids[2]: 2}


def test_running_run_without_a_live_worker_becomes_interrupted_at_start(factory, settings, dataset_id, tiny_model_dir):
    run_id = _queue(factory, settings, dataset_id, tiny_model_dir)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with session_scope(factory) as session:  # claimed by a server process that has died since
        assert jobs_repo.claim(session, job_of_run(session, run_id).id, f"{socket.gethostname()}:{dead.pid}:0")
        assert runs_repo.transition(session, run_id, "running", pid=dead.pid, started_at=datetime(2020, 1, 1))
    with session_scope(factory) as session:
        JobDispatcher(settings.model_copy(update={"max_concurrent_runs": 0}), factory).tick()
        run = session.get(Run, run_id)
        session.refresh(run)
        assert run.status == "interrupted" and "Resume" in run.error_message
        resumed = training.resume_run(session, run_id)
        assert resumed.status == "queued" and resumed.resume_count == 1
        job = job_of_run(session, run_id)
        assert (job.status, job.owner, "Resume" in job.error_message) == ("queued", "", False)


def test_a_stopped_run_whose_model_cannot_do_its_task_is_not_resumed(factory, settings, dataset_id) -> None:
    with session_scope(factory) as session:  # queued before encoders were refused for generation (a walk-through's)
        run = runs_repo.create_run(
            session, name="chat on e5", dataset_id=dataset_id, task="generation",
            base_model="embedded:multilingual-e5-small", config=TrainingConfig().model_dump(mode="json"),
        )  # fmt: skip
        run.status = "stopped"
        run_id = run.id
    with session_scope(factory) as session:
        with pytest.raises(InvalidInput) as refused:
            training.resume_run(session, run_id)
        assert refused.value.code == "wrong_model_for_task"
        assert session.get(Run, run_id).status == "stopped"


def test_transition_refuses_moves_the_lifecycle_forbids(factory, settings, dataset_id, tiny_model_dir):
    run_id = _queue(factory, settings, dataset_id, tiny_model_dir)
    with session_scope(factory) as session:
        assert not runs_repo.transition(session, run_id, "succeeded")  # queued -> succeeded skips running
        assert runs_repo.transition(session, run_id, "cancelled", finished_at=datetime.now(UTC))
        assert not runs_repo.transition(session, run_id, "running")


def test_a_run_records_the_servers_cpu_time_budget_unless_it_sets_its_own(factory, settings, dataset_id):
    settings.cpu_time_budget_minutes = 7.5
    with session_scope(factory) as session:
        default = _queue(factory, settings, dataset_id, "tfidf")
        off = _queue(factory, settings, dataset_id, "tfidf", time_budget_minutes=0)
        own = _queue(factory, settings, dataset_id, "tfidf", time_budget_minutes=30)
        budgets = [session.get(Run, i).config["time_budget_minutes"] for i in (default, off, own)]
    assert budgets == [7.5, 0, 30]
