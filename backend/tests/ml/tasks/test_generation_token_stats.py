"""Token lengths at upload: once the default model (embedded Gemma) is prepared, a generation file's report has the
prompt / response / conversation token lengths under its tokenizer and the share of conversations training's
automatic max length would cut; before that it says the lengths are in characters only."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_trainer.core.config import get_settings
from llm_trainer.ml.base_models.embedded_gemma import FORMAT_VERSION, MARKER, gemma_dir
from llm_trainer.ml.tasks.registry import get_spec
from tests.helpers.chat_data import chat_texts
from tests.helpers.tiny_model import build_tiny_causal_lm


def report_of(path: Path) -> dict:
    opened = get_spec("generation").open_ingest(path, path.name, {})
    for record in opened.records:
        opened.validator.add(record)
    return opened.validator.finish()["generation"]


def write_file(path: Path) -> Path:
    records = [{"instruction": f"苹果是什么颜色？（编号{i}）", "output": "苹果是红色的。"} for i in range(19)]
    records.append({"instruction": "讲一个很长的故事", "output": "从前有座山，山里有座庙。" * 400})
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """The server's settings are read once per process: each test sees its own data dir."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def prepared_gemma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir whose embedded-Gemma folder is marked prepared, with the tiny model's tokenizer standing in."""
    tiny = build_tiny_causal_lm(tmp_path / "tiny", chat_texts(30) + ["从前有座山，山里有座庙。讲一个很长的故事"])
    data_dir = tmp_path / "data"
    folder = gemma_dir(data_dir / "cache")
    folder.mkdir(parents=True)
    shutil.copy(tiny / "tokenizer.json", folder / "tokenizer.json")
    (folder / MARKER).write_text(json.dumps({"format": FORMAT_VERSION}))
    monkeypatch.setenv("LLM_TRAINER_DATA_DIR", str(data_dir))
    return tiny


def test_token_lengths_and_the_cut_share_use_the_default_models_tokenizer(tmp_path: Path, prepared_gemma) -> None:
    from transformers import AutoTokenizer

    from llm_trainer.ml.tasks.generation.chat import encode, ensure_chat_template

    tokens = report_of(write_file(tmp_path / "sft.jsonl"))["token_lengths"]
    assert tokens["available"] and tokens["tokenizer"] == "Gemma 3 270M"
    tokenizer = AutoTokenizer.from_pretrained(prepared_gemma)
    ensure_chat_template(tokenizer)
    short = [
        {"role": "user", "content": "苹果是什么颜色？（编号0）"},
        {"role": "assistant", "content": "苹果是红色的。"},
    ]
    exact = encode(tokenizer, short, 10_000).full_length  # what training counts
    assert abs(tokens["conversation"]["min"] - exact) <= 2
    assert tokens["response"]["max"] > 512 > tokens["response"]["min"]
    assert tokens["max_length"] == 512 and tokens["truncated"] == 1 and tokens["truncated_share"] == 0.05


def test_without_the_prepared_model_the_report_says_lengths_are_characters(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LLM_TRAINER_DATA_DIR", str(tmp_path / "empty-data"))
    report = report_of(write_file(tmp_path / "sft.jsonl"))
    assert report["token_lengths"]["available"] is False and "characters" in report["token_lengths"]["reason"]
    assert report["response_length"]["max"] == len("从前有座山，山里有座庙。" * 400)
