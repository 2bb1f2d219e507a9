"""Fixtures shared by the task model tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_trainer.ml.tasks.generation.chat import ensure_chat_template
from tests.helpers.chat_data import chat_texts
from tests.helpers.tiny_model import build_tiny_causal_lm


@pytest.fixture(scope="module")
def tiny_chat_lm(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """(tokenizer with a chat template, model) of a tiny causal LM built locally and reloaded from its folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder: Path = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"), chat_texts(12))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ensure_chat_template(tokenizer)
    return tokenizer, AutoModelForCausalLM.from_pretrained(folder)
