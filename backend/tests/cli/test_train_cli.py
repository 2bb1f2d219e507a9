"""`llm-trainer train`: import a CSV, train with config flags, print progress, leave a version; bad flags refused."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

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


def test_out_of_range_flag_is_refused_before_queueing(data_dir, tiny_model_dir):
    result = _cli(data_dir, "--dataset", "1", "--base-model", str(tiny_model_dir), "--learning-rate", "5")
    assert result.returncode == 2 and "learning_rate" in result.stderr
