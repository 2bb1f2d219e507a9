"""The worker as its own process: failures recorded readably, exit with its server, 2-process CPU DDP."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from llm_trainer.core.config import Settings
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import ModelVersion, Run
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.worker.launch import worker_env
from tests.helpers.runs import finished, wait_run
from tests.helpers.training_data import insert_dataset, review_rows


def _running_run(factory, base_model: str, **config) -> int:
    dataset_id = insert_dataset(factory, review_rows(40))
    with session_scope(factory) as session:
        run = runs_repo.create_run(
            session, dataset_id=dataset_id, base_model=base_model, config=TrainingConfig(**config).model_dump()
        )
        run.status = "running"
        return run.id


def _worker(settings: Settings, run_id: int, parent_pid: int | None = None) -> subprocess.Popen:
    env = worker_env({}, settings.data_dir)
    if parent_pid:
        env["LLM_TRAINER_PARENT_PID"] = str(parent_pid)
    log = (settings.runs_dir / str(run_id)).joinpath("train.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "llm_trainer.worker", str(run_id)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def test_broken_model_ends_failed_with_message_and_log_tail(factory, settings, tiny_model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    run_id = _running_run(factory, str(broken), epochs=1)
    assert _worker(settings, run_id).wait(timeout=180) == 1
    with session_scope(factory) as session:
        run = session.get(Run, run_id)
        assert run.status == "failed"
        assert run.error_message and "Traceback" not in run.error_message  # one readable line...
        assert "Traceback" in run.log_tail  # ...and the details in the log tail


def test_worker_exits_when_its_server_dies(factory, settings, tiny_model_dir):
    run_id = _running_run(factory, str(tiny_model_dir), epochs=100, batch_size=2)
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    worker = _worker(settings, run_id, parent_pid=server.pid)
    server.wait()
    assert worker.wait(timeout=120) == 3
    with session_scope(factory) as session:
        run = session.get(Run, run_id)
        assert run.status == "interrupted" and "server" in run.error_message


def test_two_process_cpu_ddp_trains_one_version(client, tiny_model_dir, settings):
    dataset_id = insert_dataset(client.app.state.session_factory, review_rows(80))
    body = {
        "dataset_id": dataset_id,
        "base_model": str(tiny_model_dir),
        "config": {"epochs": 6, "batch_size": 4, "learning_rate": 5e-3, "num_processes": 2, "device": "cpu"},
    }
    created = client.post("/train", json=body).json()
    run = wait_run(client.get, created["id"], finished, timeout=240)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    with client.app.state.session_factory() as session:
        versions = session.query(ModelVersion).filter_by(run_id=run["id"]).all()
    assert len(versions) == 1, "only rank 0 saves a version"
    meta = json.loads((settings.models_dir / str(versions[0].id) / "llm_trainer.json").read_text(encoding="utf-8"))
    # 64 training rows, 2 processes x batch 4 = 8 rows per step: 8 steps per epoch, not 16.
    assert meta["metrics"]["global_step"] == 48
