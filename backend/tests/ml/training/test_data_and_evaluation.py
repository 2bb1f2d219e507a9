"""Split, label order, max-length choice and metrics: the pieces a user sees in a run's report."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.training.data import (
    choose_max_length,
    class_weights,
    hold_out,
    label_order,
    split_rows,
    token_lengths,
    truncation_share,
)
from llm_trainer.ml.training.evaluation import evaluate_probabilities


def test_stratified_split_keeps_label_shares_and_is_reproducible():
    rows = [(f"文本{i}", "a" if i % 4 else "b", None) for i in range(200)]
    split = split_rows(rows, source="split", ratio=0.2, seed=7)
    assert len(split.val_texts) == 40 and Counter(split.val_labels) == {"a": 30, "b": 10}
    assert split_rows(rows, source="split", ratio=0.2, seed=7).val_texts == split.val_texts
    assert split.labels == ["a", "b"]


def test_dataset_split_marks_are_used_and_missing_ones_are_explained():
    rows = [("好", "1", "train"), ("坏", "0", "train"), ("行", "1", "validation"), ("差", "0", "test")]
    split = split_rows(rows, source="dataset", ratio=0.2, seed=0)
    assert split.val_texts == ["行", "差"] and split.train_texts == ["好", "坏"]
    with pytest.raises(ValueError, match="validation_source=split"):
        split_rows([(t, lbl, None) for t, lbl, _ in rows], source="dataset", ratio=0.2, seed=0)


def test_unstratified_hold_out_uses_marks_or_a_seeded_share_and_says_how_to_fix_an_empty_part():
    marked = [("a", "train"), ("b", "dev"), ("c", None), ("d", "TEST")]
    assert hold_out(marked, TrainingConfig(validation_source="dataset"), "texts") == (["a", "c"], ["b", "d"])
    with pytest.raises(ValueError, match="mark some texts as validation"):
        hold_out([(x, None) for x, _ in marked], TrainingConfig(validation_source="dataset"), "texts")
    items = [(i, None) for i in range(50)]
    train, val = hold_out(items, TrainingConfig(validation_ratio=0.2, seed=3), "rows")
    assert len(val) == 10 and sorted(train + val) == list(range(50))
    assert hold_out(items, TrainingConfig(validation_ratio=0.2, seed=3), "rows") == (train, val)
    with pytest.raises(ValueError, match="too few conversations.*add conversations"):
        hold_out([("only", None)], TrainingConfig(), "conversations")


def test_single_row_label_is_refused_with_its_name():
    with pytest.raises(ValueError, match="孤"):
        split_rows([("x", "a", None), ("y", "a", None), ("z", "孤", None)], source="split", ratio=0.3, seed=0)


def test_numeric_labels_sort_numerically():
    assert label_order(["10", "2", "1"]) == ["1", "2", "10"]
    assert label_order(["正面", "负面"]) == ["正面", "负面"]


def test_max_length_is_p95_capped_and_truncation_share_reported():
    lengths = list(range(1, 101))
    assert choose_max_length(lengths, limit=512, requested=None) == 96  # p95 = 96, a multiple of 8
    assert choose_max_length(lengths, limit=64, requested=None) == 64
    assert choose_max_length(lengths, limit=512, requested=300) == 300
    assert truncation_share(lengths, 96) == pytest.approx(0.04)


def test_the_cpu_cap_bounds_only_the_automatic_max_length():
    long_docs = list(range(100, 600))
    assert choose_max_length(long_docs, limit=512, requested=None, auto_cap=128) == 128
    assert choose_max_length(list(range(1, 101)), limit=512, requested=None, auto_cap=128) == 96  # p95 below it
    assert choose_max_length(long_docs, limit=512, requested=300, auto_cap=128) == 300  # the user's choice stands


def test_class_weights_favour_the_rare_class():
    w = class_weights([0] * 90 + [1] * 10, 2)
    assert w[1] > w[0] and sum(w) / 2 == pytest.approx(1.0)


def test_evaluation_reports_scores_confusion_and_confident_mistakes():
    labels = ["正面", "负面"]
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.95, 0.05], [0.6, 0.4]])
    truth = ["正面", "负面", "负面", "负面"]
    m = evaluate_probabilities(["好", "差", "假好", "一般"], truth, probs, labels)
    assert m["accuracy"] == 0.5
    assert m["confusion_matrix"] == {"labels": labels, "matrix": [[1, 0], [2, 1]]}
    assert m["per_class"]["负面"]["support"] == 3 and m["per_class"]["负面"]["precision"] == 1.0
    assert [x["text"] for x in m["misclassified"]] == ["假好", "一般"]  # most confident mistake first
    assert m["misclassified"][0] == {"text": "假好", "true": "负面", "predicted": "正面", "confidence": 0.95}
    assert 0 < m["macro_f1"] < 1 and 0 < m["weighted_f1"] < 1


def test_config_bounds_and_consistency():
    with pytest.raises(ValueError):
        TrainingConfig(learning_rate=0)
    with pytest.raises(ValueError, match="save_strategy"):
        TrainingConfig(early_stopping_patience=2, save_strategy="no")
    with pytest.raises(ValueError, match="CUDA"):
        TrainingConfig(precision="fp16", device="cpu")
    assert TrainingConfig(gpu_ids=[0, 1]).world_size == 2


def test_preflight_warns_when_the_batch_cannot_fit(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    from llm_trainer.ml.training.trainer import preflight_memory

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    small, none = preflight_memory(model, 8, 32, "fp32", "cpu")
    assert none == [] and small > sum(p.numel() for p in model.parameters()) * 4
    _, warned = preflight_memory(model, 10**7, 512, "fp32", "cpu")
    assert warned and "batch_size" in warned[0]


def test_counting_long_texts_does_not_log_the_indexing_errors_warning(tiny_model_dir, caplog):
    import logging

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.model_max_length = 16
    with caplog.at_level(logging.WARNING):
        lengths = token_lengths(tokenizer, ["好吃" * 40])
    assert lengths[0] > 16  # really counted past the limit
    assert "Token indices sequence length" not in caplog.text


def test_whole_text_coverage_reads_the_longest_text_up_to_the_cap():
    lengths = list(range(1, 101))
    assert choose_max_length(lengths, limit=512, requested=None, coverage=1.0) == 104  # 100, rounded up to 8
    assert choose_max_length(list(range(100, 600)), limit=512, requested=None, auto_cap=256, coverage=1.0) == 256
