"""Hub sources with no network: the local HF cache is used first, an unreachable hub gets the named error and fixes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llm_trainer.core.errors import InvalidInput, Unavailable
from llm_trainer.ml.base_models import hub
from llm_trainer.ml.base_models.catalog import build_catalog
from llm_trainer.ml.base_models.remotes import REMOTES
from llm_trainer.ml.modeling import load_base_for_training
from tests.helpers.fake_hub import closed_port_endpoint, fake_hub


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import huggingface_hub.constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def _put_in_cache(cache: Path, repo_id: str, model_dir: Path) -> Path:
    """Lay `model_dir` out the way huggingface_hub caches a snapshot."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    shutil.copytree(model_dir, snapshot)
    return snapshot


@pytest.mark.usefixtures("hf_cache")
def test_unreachable_hub_is_named_with_the_three_fixes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint())
    with pytest.raises(Unavailable) as err:
        load_base_for_training("hfl/rbt3", ["a", "b"], tmp_path)
    assert err.value.code == "hub_unreachable" and err.value.status_code == 503
    message = err.value.message
    assert "HF_ENDPOINT" in message and "https://hf-mirror.com" in message
    assert "local model folder" in message and "embedded:multilingual-e5-small" in message
    assert err.value.details["endpoint"] == hub.hub_endpoint()


@pytest.mark.usefixtures("hf_cache")
def test_offline_mode_says_to_unset_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(Unavailable) as err:
        REMOTES["hub"].resolve("bert-base-chinese")
    assert err.value.code == "hub_unreachable"
    assert "unset HF_HUB_OFFLINE" in err.value.message


def test_cached_snapshot_is_used_without_network(
    hf_cache: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint())  # a network call would fail loudly
    snapshot = _put_in_cache(hf_cache, "hfl/rbt3", tiny_model_dir)
    events = []
    assert REMOTES["hub"].resolve("hfl/rbt3", events.append) == snapshot
    assert events[-1]["stage"] == "cached" and events[-1]["percent"] == 100.0
    _, model = load_base_for_training("hfl/rbt3", ["neg", "pos"], tmp_path)
    assert model.config.label2id == {"neg": 0, "pos": 1}
    assert model.config.base_model_source == "hfl/rbt3"


def test_incomplete_cache_entry_is_not_taken_for_a_model(hf_cache: Path, tiny_model_dir: Path) -> None:
    snapshot = _put_in_cache(hf_cache, "bert-base-chinese", tiny_model_dir)
    (snapshot / "model.safetensors").unlink()  # e.g. an interrupted download
    assert hub.cached_snapshot("bert-base-chinese") is None


def test_default_is_bert_when_cached_else_embedded_with_reason(
    hf_cache: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = build_catalog(tmp_path)
    assert offline.default == "embedded:multilingual-e5-small"
    assert "not reachable" in offline.default_reason and "HF_ENDPOINT" in offline.default_reason
    assert {e.source: e.availability for e in offline.entries}["bert-base-chinese"] == "unavailable"

    _put_in_cache(hf_cache, "bert-base-chinese", tiny_model_dir)
    cached = build_catalog(tmp_path)
    assert cached.default == "bert-base-chinese" and "cache" in cached.default_reason
    assert [e.source for e in cached.entries if e.default] == ["bert-base-chinese"]


def test_probe_gives_up_quickly_on_an_unroutable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://10.255.255.1")  # blackholed: no answer, no refusal
    started = time.monotonic()
    problem = hub.probe(timeout=0.5)
    assert problem is not None and "no answer" in problem
    assert time.monotonic() - started < 5


@pytest.mark.usefixtures("hf_cache")
def test_a_download_over_the_cap_is_refused_before_the_first_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"config.json": 700, "vocab.txt": 110_000, "model.safetensors": 30_000_000_000}
    import huggingface_hub.constants

    with fake_hub(files) as (endpoint, requests):
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # read by the library at import
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        with hub.download_limit(20_000_000_000), pytest.raises(InvalidInput) as err:
            REMOTES["hub"].resolve("someone/huge-model")
    assert err.value.code == "model_too_large" and "LLM_TRAINER_HUB_MAX_DOWNLOAD_GB" in err.value.message
    assert "30.0 GB" in err.value.message and "20 GB" in err.value.message
    assert requests and all(path.startswith("/api/models/") for path in requests)  # listed, nothing fetched
