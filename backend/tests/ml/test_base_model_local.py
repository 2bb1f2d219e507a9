"""Local folders: a tiny saved BERT trains and reloads through the contract; broken folders name what is missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from llm_trainer.core.errors import InvalidInput
from llm_trainer.ml.modeling import load_base_for_training, load_classifier


def _copy(src: Path, dst: Path, drop: tuple[str, ...] = ()) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*drop))
    return dst


@pytest.mark.parametrize("prefix", ["", "local:"])
def test_local_folder_loads_with_fresh_head_and_reloads(tiny_model_dir: Path, tmp_path: Path, prefix: str) -> None:
    tokenizer, model = load_base_for_training(f"{prefix}{tiny_model_dir}", ["差评", "好评", "中评"], tmp_path / "cache")
    assert model.config.id2label == {0: "差评", 1: "好评", 2: "中评"}
    assert model.config.num_labels == 3 and type(model).__name__ == "BertForSequenceClassification"
    enc = tokenizer(["味道不错", "送餐太慢了"], padding=True, return_tensors="pt")
    model.save_pretrained(tmp_path / "version")
    tokenizer.save_pretrained(tmp_path / "version")
    _, reloaded = load_classifier(tmp_path / "version")
    with torch.no_grad():
        assert torch.allclose(model.eval()(**enc).logits, reloaded(**enc).logits, atol=1e-6)


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        (("config.json",), "config.json"),
        (("model.safetensors",), "model.safetensors or pytorch_model.bin"),
        (("tokenizer.json", "vocab.txt"), "tokenizer.json or vocab.txt"),
    ],
)
def test_incomplete_folder_names_the_missing_file(tiny_model_dir: Path, tmp_path: Path, drop, named) -> None:
    broken = _copy(tiny_model_dir, tmp_path / "broken", drop)
    with pytest.raises(InvalidInput) as err:
        load_base_for_training(str(broken), ["a", "b"], tmp_path / "cache")
    assert err.value.code == "model_folder_incomplete"
    assert named in err.value.message
    assert err.value.details["folder"] == str(broken)


def test_missing_shard_is_named(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = _copy(tiny_model_dir, tmp_path / "sharded", ("model.safetensors",))
    index = {
        "metadata": {},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    (broken / "model.safetensors.index.json").write_text(json.dumps(index))
    shutil.copy(tiny_model_dir / "model.safetensors", broken / "model-00001-of-00002.safetensors")
    with pytest.raises(InvalidInput) as err:
        load_classifier(broken)
    assert err.value.details["missing"] == ["model-00002-of-00002.safetensors"]


def test_missing_folder_and_tfidf_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_base_for_training(str(tmp_path / "nowhere"), ["a", "b"], tmp_path)
    with pytest.raises(InvalidInput) as err:
        load_base_for_training("tfidf", ["a", "b"], tmp_path)
    assert err.value.code == "not_a_transformer"


class _RunsCode:
    """A pickle payload: unpickling it would create a file (what a hostile pytorch_model.bin does)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickled_bin_with_code_is_refused_and_its_code_never_runs(tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    folder = _copy(tiny_model_dir, tmp_path / "hostile", drop=("model.safetensors",))
    state = load_file(tiny_model_dir / "model.safetensors")
    marker = tmp_path / "code-ran"
    torch.save({**state, "payload": _RunsCode(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(Exception, match="(?i)weights_only|unpickl|unsupported global"):
        load_base_for_training(str(folder), ["差评", "好评"], tmp_path / "cache")
    assert not marker.exists()
