"""A version's validation scores are its served answers: texts past the max length are read in windows, as served."""

from __future__ import annotations

import random

import numpy as np
import pytest

from llm_trainer.ml.inference.predictor import TorchPredictor
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.training.data import Split
from llm_trainer.ml.training.trainer import TrainJob, train_transformer
from llm_trainer.worker.reporter import NullReporter


def _reviews(n: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """Short and long texts (characters the tiny tokenizer knows); a long one's label words sit past its first cut."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        tags = ["好"] if i % 2 else ["慢"]
        filler = "，".join(rng.choice(["这家店的菜", "味道不错", "包装破了"]) for _ in range(rng.choice([1, 12])))
        texts.append(f"{filler}，{'很好吃' if tags == ['好'] else '送餐太慢了'}")
        labels.append(tags)
    return texts, labels


@pytest.mark.parametrize("multi_label", [True, False])
def test_validation_probabilities_equal_what_the_trained_model_serves_for_texts_longer_than_its_max_length(
    tmp_path, tiny_model_dir, multi_label
):
    train_texts, train_tags = _reviews(32, seed=1)
    val_texts, val_tags = _reviews(12, seed=2)
    as_label = (lambda tags: tags) if multi_label else (lambda tags: tags[0])
    split = Split(train_texts, [as_label(t) for t in train_tags], val_texts, [as_label(t) for t in val_tags],
                  ["好", "慢"])  # fmt: skip
    config = {"epochs": 30, "batch_size": 8, "learning_rate": 5e-3, "max_length": 24, "time_budget_minutes": 0}
    cfg = TrainingConfig(device="cpu", save_strategy="no", fast_serving=False, **config)
    problem = "multi_label_classification" if multi_label else "single_label_classification"
    job = TrainJob(str(tiny_model_dir), cfg, split, tmp_path / "run", tmp_path / "cache", problem_type=problem)
    outcome = train_transformer(job, NullReporter())

    served = TorchPredictor(outcome.tokenizer, outcome.model, split.labels, outcome.max_length,
                            problem_type=problem, truncation=cfg.truncation)  # fmt: skip
    probs, _, windows = served.scored(val_texts)
    assert any(w > 1 for w in windows) and any(w == 1 for w in windows), "both kinds of text are in validation"
    np.testing.assert_allclose(outcome.val_probs, probs, atol=1e-5)
