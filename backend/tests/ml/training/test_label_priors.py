"""A fresh multi-label head starts at each label's training frequency, not at p = 0.5 for every label."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from llm_trainer.ml.training.trainer import start_at_label_priors

LABELS = ["价格", "动力", "外观"]
SETS = [["价格"]] * 6 + [["价格", "动力"]] * 2 + [["外观"]] * 2  # 10 texts: 价格 8, 动力 2, 外观 2


def _head(model) -> torch.nn.Linear:
    return model.classifier


def test_a_fresh_sigmoid_head_starts_at_the_label_frequencies(tiny_model_dir) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=3, problem_type="multi_label_classification", ignore_mismatched_sizes=True
    )
    assert not torch.count_nonzero(_head(model).bias), "transformers starts a new head at zero"
    start_at_label_priors(model, SETS, LABELS)
    start = torch.sigmoid(_head(model).bias).detach().numpy()
    assert start == pytest.approx(np.array([8.5, 2.5, 2.5]) / 11, abs=1e-6)  # smoothed counts / (texts + 1)
    logits = model(input_ids=torch.tensor([[2, 5, 6, 3]])).logits
    assert (torch.sigmoid(logits) < 0.5).sum() >= 2, "rare labels start unlikely, not at a coin flip"


def test_a_head_that_already_learned_something_is_left_alone(tiny_model_dir) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=3, ignore_mismatched_sizes=True
    )
    with torch.no_grad():
        _head(model).bias.copy_(torch.tensor([0.3, -0.2, 0.1]))
    start_at_label_priors(model, SETS, LABELS)
    assert _head(model).bias.tolist() == pytest.approx([0.3, -0.2, 0.1])
