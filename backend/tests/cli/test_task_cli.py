"""The CLI for the other tasks: `train --task ner` from a JSONL file and `predict` printing entities; a pair file
trained without --task (its columns say pairs) and `predict` of sentence pairs with --text-b."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

from tests.helpers.ner_data import ner_records, write_ner_jsonl
from tests.helpers.training_data import NEGATIVE, POSITIVE


def _cli(
    data_dir, command: str, *args: str, timeout: float = 300, stdin: str | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "LLM_TRAINER_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "llm_trainer.cli", command, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, input=stdin)


def test_train_task_ner_from_jsonl_then_predict_prints_entities_with_offsets(tmp_path, data_dir) -> None:
    path = write_ner_jsonl(tmp_path / "实体.jsonl", ner_records(120))
    trained = _cli(data_dir, "train", "--task", "ner", "--file", str(path), "--base-model", "tfidf", "--wait")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "(ner," in trained.stdout and "model version 1: micro_f1" in trained.stdout

    done = _cli(data_dir, "predict", "--model", "1", "--json", "我叫张三，住在北京。")
    assert done.returncode == 0, done.stderr
    [answer] = json.loads(done.stdout)["predictions"]
    assert {(e["text"], e["label"], e["start"], e["end"]) for e in answer["entities"]} == {
        ("张三", "name", 2, 4),
        ("北京", "city", 7, 9),
    }
    plain = _cli(data_dir, "predict", "--model", "1", "腾讯总部在上海")
    assert plain.returncode == 0 and "腾讯/company [0,2)" in plain.stdout and "上海/city [5,7)" in plain.stdout


def test_a_pair_file_trains_as_pairs_without_a_task_then_predicts_with_text_b(tmp_path, data_dir) -> None:
    path = tmp_path / "pairs.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["句子1", "句子2", "标签"])
        for i in range(80):
            same = i % 2 == 0
            writer.writerow([POSITIVE[i % len(POSITIVE)], (POSITIVE if same else NEGATIVE)[i % 7] + str(i), int(same)])
    trained = _cli(data_dir, "train", "--file", str(path), "--base-model", "tfidf", "--wait")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "(pair," in trained.stdout and "task pair: recognised from 句子1, 句子2" in trained.stdout
    done = _cli(data_dir, "predict", "--model", "1", "--json", "好吃", "好吃", "--text-b", "很好", "--text-b", "难吃")
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)["predictions"]
    assert len(answers) == 2 and all(a["label"] in {"0", "1"} for a in answers)
    mismatch = _cli(data_dir, "predict", "--model", "1", "好吃", "--text-b", "a", "--text-b", "b")
    assert mismatch.returncode != 0 and "one --text-b per text" in mismatch.stderr

    file_in, file_out = tmp_path / "to-match.csv", tmp_path / "matched.csv"
    file_in.write_text("问,答\n好吃,很好\n不错,难吃\n", encoding="utf-8")
    columns = ("--text-column", "问", "--text-b-column", "答")
    matched = _cli(data_dir, "predict", "--model", "1", "--file", str(file_in), "--out", str(file_out), *columns)
    assert matched.returncode == 0, matched.stderr
    out = list(csv.reader(file_out.read_text(encoding="utf-8-sig").splitlines()))
    assert out[0] == ["问", "答", "predicted_label", "probability"]
    assert [row[2] in {"0", "1"} for row in out[1:]] == [True, True]
