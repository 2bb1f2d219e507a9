"""Generation end to end on a real uvicorn server: upload Alpaca JSONL, fine-tune a tiny causal LM with LoRA through
the worker, get a version holding the adapter and its base reference (validation loss and perplexity next to the
base model's), then chat with it through the official `openai` client (streamed and whole) and `/api/generate`."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from llm_trainer.core.errors import InvalidInput
from llm_trainer.ml.tasks.generation.training import load_causal_lm
from llm_trainer.ml.version_store import read_manifest
from tests.helpers.chat_data import COLOURS, alpaca_jsonl, chat_texts
from tests.helpers.runs import finished, wait_run
from tests.helpers.tiny_model import build_tiny_bert, build_tiny_causal_lm

TRAIN_CONFIG = {"epochs": 6, "batch_size": 8, "learning_rate": 1e-2, "lora_rank": 16, "max_length": 64}


@pytest.fixture(scope="module")
def causal_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_causal_lm(tmp_path_factory.mktemp("causal-base"), chat_texts(60))


def train_version(http: httpx.Client, base: Path) -> int:
    resp = http.post("/api/datasets", files={"file": ("sft.jsonl", alpaca_jsonl(60), "application/json")},
                     data={"task": "generation"})  # fmt: skip
    assert resp.status_code == 201, resp.text
    dataset = resp.json()
    assert dataset["task"] == "generation" and dataset["report"]["generation"]["layout"] == "alpaca"
    resp = http.post("/train", json={"dataset_id": dataset["id"], "base_model": str(base), "config": TRAIN_CONFIG})
    assert resp.status_code == 201, resp.text
    run = wait_run(http.get, resp.json()["id"], finished, timeout=400)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    [version_id] = run["model_version_ids"]
    return version_id


def test_lora_sft_version_is_served_through_the_openai_client(live_server, causal_base, data_dir) -> None:
    http = httpx.Client(base_url=live_server, timeout=60)
    version_id = train_version(http, causal_base)
    run = http.get(f"/api/runs/{http.get(f'/api/models/{version_id}').json()['run_id']}").json()
    [first, second] = run["progress"]["samples"]  # live answers to fixed validation prompts, base next to tuned
    assert first["base"] is not None and first["answer"] is not None and first["reference"].endswith("的。")
    assert first["answer"] != first["base"]
    model = http.get(f"/api/models/{version_id}").json()
    assert model["task"] == "generation" and model["kind"] == "lora"
    metrics = model["metrics"]
    assert metrics["perplexity"] < metrics["baseline"]["perplexity"] / 10, metrics
    assert model["key_metrics"]["perplexity"] == metrics["perplexity"]
    assert metrics["rouge_l"] > metrics["baseline"]["rouge_l"] and 0 <= metrics["bleu_4"] <= 1
    assert model["key_metrics"]["baseline_rouge_l"] == metrics["baseline"]["rouge_l"]
    example = metrics["answers"]["examples"][0]
    assert example["reference"] and example["answer"] is not None and "sacrebleu" in metrics["answers"]["scorers"]
    folder = data_dir / "models" / str(version_id)
    assert (folder / "adapter_model.safetensors").is_file() and not (folder / "model.safetensors").exists()
    manifest = read_manifest(folder)
    assert manifest["base_model"] == str(causal_base)
    assert manifest["generation"]["base_folder"] == str(causal_base.resolve())
    assert "<start_of_turn>" in (folder / "chat_template.jinja").read_text()  # the default template, kept for serving

    client = openai.OpenAI(base_url=f"{live_server}/v1", api_key="not-needed", max_retries=0)
    assert str(version_id) in [m.id for m in client.models.list().data]
    question = [{"role": "user", "content": "苹果是什么颜色？（编号6）"}]
    pieces, finish = [], None
    stream = client.chat.completions.create(model=str(version_id), messages=question, stream=True, temperature=0,
                                            max_tokens=20, stream_options={"include_usage": True})  # fmt: skip
    usage = None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    streamed = "".join(pieces)
    assert COLOURS["苹果"] in streamed, streamed
    assert finish in ("stop", "length") and usage and usage.completion_tokens > 0
    whole = client.chat.completions.create(model=model["name"], messages=question, temperature=0, max_tokens=20)
    assert whole.choices[0].message.content == streamed  # greedy: the same answer by name as by id
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=question)

    ask = {"model_id": version_id, "prompt": question[0]["content"], "temperature": 0, "max_new_tokens": 20}
    own = http.post("/api/generate", json=ask).json()
    assert own["text"] == streamed and own["usage"]["completion_tokens"] > 0
    predicted = http.post("/predict", json={"model_id": version_id, "text": question[0]["content"]}).json()
    assert predicted["task"] == "generation" and predicted["text"] and predicted["finish_reason"] in ("stop", "length")
    base = http.post("/api/generate", json={**ask, "variant": "base"}).json()
    assert base["variant"] == "base" and base["text"] != streamed


def test_a_tfidf_run_on_generation_data_is_refused_before_it_is_queued(client) -> None:
    resp = client.post("/api/datasets", files={"file": ("sft.jsonl", alpaca_jsonl(10), "application/json")},
                       data={"task": "generation"})  # fmt: skip
    refused = client.post("/train", json={"dataset_id": resp.json()["id"], "base_model": "tfidf"})
    assert refused.status_code == 422 and refused.json()["code"] == "no_baseline"
    assert refused.json()["details"]["field"] == "base_model"


def test_an_encoder_is_refused_for_generation_before_the_run_is_queued_naming_the_chat_models(client, tmp_path) -> None:
    resp = client.post("/api/datasets", files={"file": ("sft.jsonl", alpaca_jsonl(10), "application/json")})
    assert resp.json()["task"] == "generation"  # recognised from instruction/output
    encoder_folder = build_tiny_bert(tmp_path / "tiny-bert", chat_texts(10))
    for encoder in ("embedded:multilingual-e5-small", str(encoder_folder)):
        refused = client.post("/train", json={"dataset_id": resp.json()["id"], "base_model": encoder})
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert body["code"] == "wrong_model_for_task" and body["details"]["field"] == "base_model"
        assert "is an encoder" in body["message"] and "embedded:gemma-3-270m" in body["message"]
    assert client.get("/api/runs").json()["items"] == []


def test_a_worker_given_an_encoder_folder_for_generation_refuses_it_instead_of_bolting_on_a_decoder(tmp_path) -> None:
    folder = build_tiny_bert(tmp_path / "tiny-bert", chat_texts(10))  # what an uncached hub encoder turns out to be
    with pytest.raises(InvalidInput) as refused:
        load_causal_lm(folder, "hfl/rbt3")
    assert refused.value.code == "not_a_causal_lm" and "BertForSequenceClassification" in refused.value.message
