"""ModelScope as a model source, through the real `modelscope` client against a loopback stand-in of its file API."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoModel, AutoTokenizer

from llm_trainer.core.errors import InvalidInput, Unavailable
from llm_trainer.ml.base_models.sources import canonical_source, parse_source
from llm_trainer.ml.modeling import resolve_source_folder
from tests.helpers.fake_hub import closed_port_endpoint
from tests.helpers.fake_modelscope import fake_modelscope


@pytest.fixture(autouse=True)
def modelscope_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "modelscope-cache"
    monkeypatch.setenv("MODELSCOPE_CACHE", str(cache))
    monkeypatch.delenv("MODELSCOPE_OFFLINE", raising=False)  # the loopback fake is the only ModelScope these reach
    return cache


def test_modelscope_model_downloads_with_byte_progress_then_loads_from_its_cache_without_asking(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[dict] = []
    with fake_modelscope("owner/tiny", tiny_model_dir) as (endpoint, requests):
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", endpoint)
        folder = resolve_source_folder("modelscope:owner/tiny", tmp_path / "cache", events.append)
        downloads = [r for r in requests if "FilePath=" in r]
        assert any("FilePath=model.safetensors" in r for r in downloads)
        assert len(downloads) == 5, "config, tokenizer files and weights"
        last = [e for e in events if e["stage"] == "download"][-1]
        assert last["downloaded"] == last["total"] > 0 and last["percent"] == 100.0
        before = len(requests)
        again = resolve_source_folder("modelscope:owner/tiny", tmp_path / "cache", events.append)
        assert again == folder and len(requests) == before, "the second use is served from ModelScope's cache"
    assert events[-1]["stage"] == "cached"
    AutoTokenizer.from_pretrained(folder)
    assert AutoModel.from_pretrained(folder).config.hidden_size > 0


def test_unknown_modelscope_id_says_so_and_how_to_spell_one(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_modelscope("owner/tiny", tiny_model_dir) as (endpoint, _):
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", endpoint)
        with pytest.raises(InvalidInput) as caught:
            resolve_source_folder("modelscope:owner/missing", tmp_path / "cache")
    assert caught.value.code == "hub_model_not_found" and "modelscope:tiansz/bert-base-chinese" in caught.value.message


def test_unreachable_modelscope_is_named_with_the_ways_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", closed_port_endpoint())
    with pytest.raises(Unavailable) as caught:
        resolve_source_folder("modelscope:owner/tiny", tmp_path / "cache")
    assert caught.value.code == "hub_unreachable"
    assert "ModelScope cache" in caught.value.message and "embedded:multilingual-e5-small" in caught.value.message


def test_modelscope_offline_switch_answers_without_asking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCOPE_OFFLINE", "1")
    with pytest.raises(Unavailable) as caught:
        resolve_source_folder("modelscope:owner/tiny", tmp_path / "cache")
    assert "MODELSCOPE_OFFLINE" in caught.value.message


def test_modelscope_preference_sends_plain_hub_ids_to_modelscope() -> None:
    assert canonical_source("bert-base-chinese", prefer_modelscope=True) == "modelscope:tiansz/bert-base-chinese"
    assert canonical_source("hfl/rbt3", prefer_modelscope=True) == "modelscope:hfl/rbt3"
    assert canonical_source("hfl/rbt3") == "hfl/rbt3"
    assert parse_source("modelscope:owner/name").kind == "modelscope"
    with pytest.raises(InvalidInput, match="modelscope:<owner>/<name>"):
        parse_source("modelscope:no-owner")
