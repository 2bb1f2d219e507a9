"""`llm-trainer train`: import a CSV, train with config flags, print progress, leave a version; bad flags refused."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy.orm import Session

from llm_trainer.core.config import Settings
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.models import Run
from llm_trainer.db.repositories import jobs as jobs_repo
from tests.conftest import run_server
from tests.helpers.runs import wait_run
from tests.helpers.training_data import review_rows


def _cli(data_dir, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLM_TRAINER_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "llm_trainer.cli", "train", *args], env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def test_train_from_csv_waits_and_reports_the_version(tmp_path, data_dir, tiny_model_dir):
    path = tmp_path / "评论.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(review_rows(60))
    result = _cli(
        data_dir, "--file", str(path), "--base-model", str(tiny_model_dir), "--epochs", "6", "--batch-size", "8",
        "--learning-rate", "0.005", "--no-freeze-embeddings", "--wait",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "imported 评论.csv as dataset 1" in result.stdout
    assert "[succeeded]" in result.stdout and "model version 1: accuracy" in result.stdout
    assert (data_dir / "models" / "1" / "llm_trainer.json").exists()
    # no server: the fast copy's export job, queued by the save, runs in the CLI before it exits
    assert "version 1 answers with onnx" in result.stdout, result.stdout
    assert (data_dir / "models" / "1" / "exports" / "onnx" / "model.onnx").is_file()


def test_out_of_range_flag_is_refused_before_queueing(data_dir, tiny_model_dir):
    result = _cli(data_dir, "--dataset", "1", "--base-model", str(tiny_model_dir), "--learning-rate", "5")
    assert result.returncode == 2 and "learning_rate" in result.stderr


@contextmanager
def _session(data_dir) -> Iterator[Session]:
    """A session on the data dir's SQLite file, its engine disposed afterwards."""
    engine = make_engine(Settings(data_dir=data_dir).db_path)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _jobs(data_dir) -> dict[int, tuple[str, str]]:
    """run id -> (train job status, owner), read from the SQLite file."""
    with _session(data_dir) as session:
        return {j.params["run_id"]: (j.status, j.owner) for j in jobs_repo.list_jobs(session) if j.kind == "train"}


def test_train_wait_without_a_server_claims_only_its_own_run(tmp_path, data_dir, tiny_model_dir):
    path = tmp_path / "评论.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text", "label"], *review_rows(40)])
    queued = _cli(data_dir, "--file", str(path), "--base-model", "tfidf")  # someone else's run, left for a server
    assert queued.returncode == 0 and "queued run 1" in queued.stdout
    mine = _cli(data_dir, "--dataset", "1", "--base-model", "tfidf", "--wait")
    assert mine.returncode == 0 and "queued run 2" in mine.stdout and "[succeeded]" in mine.stdout
    jobs = _jobs(data_dir)
    assert jobs[1] == ("queued", "") and jobs[2][0] == "succeeded"


def test_train_wait_beside_a_server_submits_over_http_with_the_token_and_the_limit_holds(
    tmp_path, data_dir, tiny_model_dir
):
    path = tmp_path / "评论.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text", "label"], *review_rows(40)])
    assert _cli(data_dir, "--file", str(path), "--base-model", "tfidf").returncode == 0  # dataset 1, run 1
    token = {"LLM_TRAINER_TOKEN": "s3cret-token"}
    with (
        run_server(data_dir, tmp_path / "server.log", env=token) as url,
        httpx.Client(base_url=url, headers={"Authorization": "Bearer s3cret-token"}) as http,
    ):
        assert wait_run(http.get, 1, lambda r: r["status"] == "succeeded")["status"] == "succeeded"
        body = {"dataset_id": 1, "base_model": str(tiny_model_dir), "config": {"epochs": 100, "batch_size": 2}}
        busy = http.post("/train", json=body).json()
        wait_run(http.get, busy["id"], lambda r: r["status"] == "running", timeout=120)

        no_token = _cli(data_dir, "--dataset", "1", "--base-model", "tfidf", "--wait")
        assert no_token.returncode == 2 and "access token" in no_token.stderr, no_token.stdout + no_token.stderr
        assert http.get("/api/runs").json()["total"] == 2, "a refused submission queues nothing"

        env = {**os.environ, "LLM_TRAINER_DATA_DIR": str(data_dir), **token}
        cli = subprocess.Popen(
            [sys.executable, "-m", "llm_trainer.cli", "train", "--dataset", "1", "--base-model", "tfidf", "--wait"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            time.sleep(8)
            assert cli.poll() is None, cli.stdout.read() if cli.stdout else ""
            statuses = {r["id"]: r["status"] for r in http.get("/api/runs").json()["items"]}
            assert statuses[busy["id"]] == "running" and statuses[busy["id"] + 1] == "queued"  # the limit holds
            http.post(f"/api/runs/{busy['id']}/stop")
            http.post(f"/api/runs/{busy['id']}/stop")  # a second stop kills it: the queue moves on
            out, _ = cli.communicate(timeout=180)
        finally:
            if cli.poll() is None:
                cli.kill()
        assert cli.returncode == 0 and f"submitted to the server at {url}" in out and "[succeeded]" in out, out
        server_owner = json.loads((data_dir / "dispatcher.json").read_text(encoding="utf-8"))["owner"]
    jobs = _jobs(data_dir)
    assert jobs[busy["id"] + 1] == ("succeeded", server_owner), "the server trained it, not a second scheduler"


def test_a_nullable_setting_is_emptied_with_none_and_a_bad_number_is_refused(tmp_path, data_dir):
    path = tmp_path / "评论.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text", "label"], *review_rows(40)])
    queued = _cli(data_dir, "--file", str(path), "--base-model", "tfidf", "--head-learning-rate", "None",
                  "--max-length", "64")  # fmt: skip
    assert queued.returncode == 0, queued.stdout + queued.stderr
    with _session(data_dir) as session:
        [run] = session.query(Run).all()
        config = dict(run.config)
    assert config["head_learning_rate"] is None, "emptied: the whole model trains at the learning rate"
    assert config["max_length"] == 64
    refused = _cli(data_dir, "--dataset", "1", "--base-model", "tfidf", "--max-length", "long")
    assert refused.returncode == 2 and "invalid int value: 'long'" in refused.stderr
