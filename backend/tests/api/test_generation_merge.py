"""`GET /api/models/{id}/download?merged=true`: a LoRA generation version downloads as a standalone model that plain
`AutoModelForCausalLM.from_pretrained` loads (no peft, no adapter files) and that answers exactly as the served
version does; the scratch folder is gone afterwards; other tasks are refused with a clear error."""

from __future__ import annotations

import io
import zipfile

from tests.helpers.chat_versions import make_lora_chat_version
from tests.helpers.versions import make_version

QUESTION = [{"role": "user", "content": "苹果是什么颜色？（编号6）"}]


def test_merged_download_loads_with_plain_transformers_and_answers_like_the_version(client, settings, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    version_id = make_lora_chat_version(settings, tmp_path / "base")
    ask = {"model_id": version_id, "messages": QUESTION, "temperature": 0, "max_new_tokens": 20}
    served = client.post("/api/generate", json=ask).json()
    base = client.post("/api/generate", json={**ask, "variant": "base"}).json()
    assert served["text"] and served["text"] != base["text"]  # the adapter changes the answers: merging it is visible

    r = client.get(f"/api/models/{version_id}/download", params={"merged": "true"})
    assert r.status_code == 200, r.text
    assert f"model-{version_id}-merged.zip" in r.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "model.safetensors" in names and "config.json" in names and "chat_template.jinja" in names
    assert not any(n.startswith("adapter_") for n in names) and "llm_trainer.json" not in names
    out = tmp_path / "merged"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(out)
    assert not list(settings.cache_dir.glob(".merge-*"))  # the scratch copy is removed once downloaded

    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    ids = tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        generated = model.generate(**ids, max_new_tokens=20, do_sample=False)  # stops at <end_of_turn> by itself
    answer = tokenizer.decode(generated[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert answer == served["text"]


def test_merged_download_of_a_classifier_is_refused_with_a_clear_error(client, settings):
    version_id = make_version(settings)
    r = client.get(f"/api/models/{version_id}/download", params={"merged": "true"})
    assert r.status_code == 422 and r.json()["code"] == "not_mergeable"
    assert client.get(f"/api/models/{version_id}/download").status_code == 200  # the plain download still works


def test_merged_download_of_a_missing_version_is_not_found(client) -> None:
    assert client.get("/api/models/999/download", params={"merged": "true"}).status_code == 404
