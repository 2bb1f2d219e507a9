"""Two "nodes" on this machine: the server's node hosts torchrun's c10d rendezvous, a second joins with
`llm-trainer join-run` (loopback, gloo, CPU); together they train one model and one version is saved."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from fastapi.testclient import TestClient

from llm_trainer.api.app import create_app
from llm_trainer.core.config import Settings
from llm_trainer.db.models import ModelVersion
from tests.conftest import LOCAL_URL
from tests.helpers.runs import finished, wait_run
from tests.helpers.training_data import insert_dataset, review_rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_rendezvous_train_one_model_and_save_one_version(data_dir, database_url, tiny_model_dir, tmp_path):
    endpoint = f"127.0.0.1:{_free_port()}"
    settings = Settings(
        data_dir=data_dir, frontend_dist=data_dir / "no-ui", database_url=database_url,
        nnodes=2, rdzv_endpoint=endpoint, node_addr="127.0.0.1",
    )  # fmt: skip
    with TestClient(create_app(settings), base_url=LOCAL_URL) as client:
        dataset_id = insert_dataset(client.app.state.session_factory, review_rows(80))
        body = {
            "dataset_id": dataset_id,
            "base_model": str(tiny_model_dir),
            "config": {"epochs": 6, "batch_size": 4, "learning_rate": 5e-3, "device": "cpu"},
        }
        created = client.post("/train", json=body).json()
        env = {**os.environ, "LLM_TRAINER_DATA_DIR": str(data_dir), "LLM_TRAINER_DATABASE_URL": database_url}
        node_log = tmp_path / "node1.log"
        with node_log.open("wb") as out:
            joined = subprocess.Popen(
                [sys.executable, "-m", "llm_trainer.cli", "join-run", str(created["id"]), "--nnodes", "2",
                 "--rdzv-endpoint", endpoint, "--local-addr", "127.0.0.1"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            run = wait_run(client.get, created["id"], finished, timeout=300)
            assert joined.wait(timeout=120) == 0, node_log.read_text(errors="replace")
        assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
        with client.app.state.session_factory() as session:
            versions = session.query(ModelVersion).filter_by(run_id=run["id"]).all()
    assert len(versions) == 1, "only global rank 0 saves a version"
    meta = json.loads((settings.models_dir / str(versions[0].id) / "llm_trainer.json").read_text(encoding="utf-8"))
    # 64 training rows, 2 nodes x 1 process x batch 4 = 8 rows per step: 8 steps per epoch, not 16.
    assert meta["metrics"]["global_step"] == 48
    server_log = (settings.runs_dir / str(run["id"]) / "train.log").read_text(errors="replace")
    joined_log = node_log.read_text(errors="replace")
    ranks = [{r for r in ("0", "1") if f"rank {r} of 2" in text} for text in (server_log, joined_log)]
    assert sorted(map(sorted, ranks)) == [["0"], ["1"]], "each node's log shows its own rank"
