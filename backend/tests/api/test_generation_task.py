"""Generation over the API: upload Alpaca JSONL, fine-tune a tiny causal LM with LoRA through the worker, get a
version holding the adapter and its base reference, with validation loss and perplexity next to the base model's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.chat_data import alpaca_jsonl, chat_texts
from tests.helpers.runs import finished, wait_run
from tests.helpers.tiny_model import build_tiny_causal_lm

TRAIN_CONFIG = {"epochs": 6, "batch_size": 8, "learning_rate": 1e-2, "lora_rank": 16, "max_length": 64}


@pytest.fixture(scope="module")
def causal_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_causal_lm(tmp_path_factory.mktemp("causal-base"), chat_texts(60))


def upload_chat(client, body: bytes) -> dict:
    resp = client.post("/api/datasets", files={"file": ("sft.jsonl", body, "application/json")},
                       data={"task": "generation"})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return resp.json()


def train(client, dataset_id: int, base: Path, config: dict) -> dict:
    resp = client.post("/train", json={"dataset_id": dataset_id, "base_model": str(base), "config": config})
    assert resp.status_code == 201, resp.text
    run = wait_run(client.get, resp.json()["id"], finished, timeout=400)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    return run


def test_lora_sft_run_gives_an_adapter_version_that_beats_the_base_loss(client, causal_base, settings) -> None:
    dataset = upload_chat(client, alpaca_jsonl(60))
    assert dataset["task"] == "generation" and dataset["report"]["generation"]["layout"] == "alpaca"
    run = train(client, dataset["id"], causal_base, TRAIN_CONFIG)
    [version_id] = run["model_version_ids"]
    model = client.get(f"/api/models/{version_id}").json()
    assert model["task"] == "generation" and model["kind"] == "lora"
    metrics = model["metrics"]
    assert metrics["perplexity"] < metrics["baseline"]["perplexity"] / 2, metrics
    assert model["key_metrics"]["perplexity"] == metrics["perplexity"]
    folder = settings.models_dir / str(version_id)
    assert (folder / "adapter_model.safetensors").is_file() and not (folder / "model.safetensors").exists()
    manifest = json.loads((folder / "llm_trainer.json").read_text())
    assert manifest["base_model"] == str(causal_base)
    assert manifest["generation"]["base_folder"] == str(causal_base.resolve())
    assert "<start_of_turn>" in (folder / "chat_template.jinja").read_text()  # the default template, kept for serving
