"""`llm-trainer predict` as a user runs it: texts on the command line, and a file to a CSV."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

from llm_trainer.core.jobs import JobKind
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.repositories import jobs as jobs_repo
from tests.conftest import run_server
from tests.helpers.versions import make_version, review_texts


def _cli(data_dir, *args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "llm_trainer.cli", "predict", "--data-dir", str(data_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_cli_predicts_texts_and_files(settings, tmp_path):
    version_id = make_version(settings)
    done = _cli(settings.data_dir, "--model", str(version_id), "--json", "这家店很好吃，推荐", "难吃，太慢")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert [p["label"] for p in answer["predictions"]] == ["好评", "差评"]

    rows = review_texts(20, seed=8)
    src = tmp_path / "in.csv"
    src.write_text("text,label\n" + "".join(f"{t},{lbl}\n" for t, lbl in rows), encoding="gbk")
    out = tmp_path / "out.csv"
    done = _cli(settings.data_dir, "--model", str(version_id), "--file", str(src), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "20 rows" in done.stdout and "accuracy" in done.stdout
    with out.open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0] == ["text", "label", "predicted_label", "probability"] and len(table) == 21

    missing = _cli(settings.data_dir, "--model", "999", "好吃")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_predict_file_beside_a_server_is_submitted_to_it_and_run_by_its_dispatcher(settings, tmp_path):
    version_id = make_version(settings)
    rows = review_texts(30, seed=3)
    src = tmp_path / "in.csv"
    src.write_text("text,label\n" + "".join(f"{t},{lbl}\n" for t, lbl in rows), encoding="utf-8")
    out = tmp_path / "out.csv"
    with run_server(settings.data_dir, tmp_path / "server.log"):
        done = _cli(settings.data_dir, "--model", str(version_id), "--file", str(src), "--out", str(out))
        owner = json.loads((settings.data_dir / "dispatcher.json").read_text(encoding="utf-8"))["owner"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "submitted to the server at" in done.stdout and "30 rows" in done.stdout and "accuracy" in done.stdout
    with out.open(encoding="utf-8-sig") as f:
        assert len(list(csv.reader(f))) == 31
    engine = make_engine(settings.database)
    with session_scope(make_session_factory(engine)) as session:
        [job] = jobs_repo.list_jobs(session, JobKind.BATCH_PREDICT)
        assert (job.status, job.owner) == ("succeeded", owner), "the server's dispatcher ran it, not the CLI"
    engine.dispose()
