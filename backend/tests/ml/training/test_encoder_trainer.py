"""The encoder tasks' Trainer: the fresh head trains at its own (higher) learning rate, the encoder at the run's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, TrainingArguments

from llm_trainer.ml.training.encoder_trainer import encoder_trainer_class, head_parameters


def _classifier(folder: Path):
    return AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3, ignore_mismatched_sizes=True)


def _optimizer(model, tmp_path: Path, head_learning_rate: float | None) -> torch.optim.Optimizer:
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=1e-4, use_cpu=True, report_to="none")
    return encoder_trainer_class(head_learning_rate)(model=model, args=args).create_optimizer()


def _rate_of(optimizer: torch.optim.Optimizer, param: torch.nn.Parameter) -> float:
    return next(g["lr"] for g in optimizer.param_groups if any(p is param for p in g["params"]))


def test_the_head_learns_at_its_own_rate_and_the_encoder_at_the_runs(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = _classifier(tiny_model_dir)
    head = head_parameters(model)
    assert {id(p) for p in head} == {id(p) for p in model.classifier.parameters()}
    optimizer = _optimizer(model, tmp_path, 1e-2)
    assert all(_rate_of(optimizer, p) == pytest.approx(1e-2) for p in head)
    encoder = list(model.base_model.parameters())
    assert all(_rate_of(optimizer, p) == pytest.approx(1e-4) for p in encoder)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


def test_without_a_head_rate_the_whole_model_learns_at_the_runs_rate(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = _classifier(tiny_model_dir)
    optimizer = _optimizer(model, tmp_path, None)
    assert {g["lr"] for g in optimizer.param_groups} == {1e-4}
