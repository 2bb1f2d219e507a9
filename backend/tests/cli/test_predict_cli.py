"""`llm-trainer predict` as a user runs it: texts on the command line, and a file to a CSV."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

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
