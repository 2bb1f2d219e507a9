"""Fixtures shared by the task model tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_trainer.ml.tasks.generation.chat import ensure_chat_template
from llm_trainer.ml.tasks.ner.spec import NerSpec, split_ner
from llm_trainer.ml.tasks.spec import ModelJob, TaskRow
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.version_store import write_manifest
from tests.helpers.chat_data import chat_texts
from tests.helpers.ner_data import ner_records
from tests.helpers.reporters import Recorder
from tests.helpers.tiny_model import build_tiny_bert, build_tiny_causal_lm


@pytest.fixture(scope="module")
def tiny_chat_lm(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """(tokenizer with a chat template, model) of a tiny causal LM built locally and reloaded from its folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder: Path = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"), chat_texts(12))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ensure_chat_template(tokenizer)
    return tokenizer, AutoModelForCausalLM.from_pretrained(folder)


@pytest.fixture(scope="session")
def tiny_ner(tmp_path_factory: pytest.TempPathFactory):
    """(split, trained version, its folder, reporter) of a tiny BERT trained on synthetic entities (with the CRF)."""
    records = ner_records(150)
    rows = [TaskRow(r["text"], "", None, None, r["entities"]) for r in records]
    config = TrainingConfig(
        epochs=15,
        batch_size=16,
        learning_rate=3e-3,
        freeze_embeddings=False,
        max_length=32,
        seed=1,
        save_strategy="no",
        eval_strategy="epoch",
    )
    data = split_ner(rows, config)
    base = build_tiny_bert(tmp_path_factory.mktemp("ner-base"), [r["text"] for r in records])
    work = tmp_path_factory.mktemp("ner-work")
    reporter = Recorder()
    trained = NerSpec().train_model(data, ModelJob(str(base), config, work, work / "cache"), reporter)
    folder = tmp_path_factory.mktemp("ner-version")
    write_manifest(folder, {"max_length": trained.max_length, **trained.manifest_extra})  # as the worker does
    trained.write_files(folder)
    return data, trained, folder, reporter
