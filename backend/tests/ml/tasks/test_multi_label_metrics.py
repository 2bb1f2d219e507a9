"""Multi-label scores are read on texts the thresholds were not tuned on; stored thresholds use all of validation."""

import numpy as np
import pytest

from llm_trainer.ml.tasks.multi_label.metrics import full_evaluation, tune_thresholds

LABELS = list("abcdefghij")


def _validation(seed: int) -> tuple[np.ndarray, list[list[str]]]:
    truth = (np.random.default_rng(seed).random((200, len(LABELS))) < 0.1).astype(np.int8)
    return truth, [[LABELS[j] for j in np.flatnonzero(row)] for row in truth]


def _f1(truth: np.ndarray, pred: np.ndarray) -> float:
    return 2 * float((truth & pred).sum()) / float(truth.sum() + pred.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_probabilities_that_know_nothing_score_no_better_than_tagging_every_label(seed: int) -> None:
    truth, sets = _validation(seed)
    noise = np.random.default_rng(100 + seed).random(truth.shape)
    metrics, thresholds = full_evaluation([""] * len(sets), sets, noise, LABELS)

    stored = np.array([thresholds["per_label"][name] for name in LABELS])
    assert stored.tolist() == tune_thresholds(truth, noise)["per_label"], "the version answers at thresholds from all"
    in_sample = _f1(truth, (noise >= stored).astype(np.int8))
    every_label = 2 * truth.mean() / (1 + truth.mean())
    assert in_sample > every_label, "thresholds fitted to the scored texts find patterns in noise"
    assert metrics["micro_f1"] <= every_label, "scored out of fold, noise earns no more than chance"
    assert metrics["at_global"]["micro_f1"] <= every_label + 0.01


def test_probabilities_that_separate_the_labels_keep_their_full_score_out_of_fold() -> None:
    truth, sets = _validation(0)
    separating = 0.5 * truth + 0.5 * np.random.default_rng(7).random(truth.shape)
    metrics, _ = full_evaluation(["文本"] * len(sets), sets, separating, LABELS)

    assert metrics["micro_f1"] == 1.0 and metrics["hamming_loss"] == 0.0
    assert metrics["per_class"]["a"]["f1"] == 1.0 and metrics["misclassified"] == []
