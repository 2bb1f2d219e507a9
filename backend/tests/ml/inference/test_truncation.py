"""Head+tail truncation: a long text keeps its start and its end, the same way in training and in serving."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from llm_trainer.ml.inference.loading import PYTORCH, load_predictor
from llm_trainer.ml.training.data import EncodedDataset
from llm_trainer.ml.truncation import Truncation, encode, head_tail
from llm_trainer.ml.version_store import write_manifest
from tests.helpers.versions import trained_tiny_bert

LONG = "好吃" * 20 + "服务" * 30 + "难吃" * 20


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(trained_tiny_bert())


def test_head_tail_keeps_the_start_and_the_end_with_their_special_tokens(tokenizer):
    features, cut = encode(tokenizer, [LONG, "好吃"], 16, Truncation.HEAD_TAIL)
    ids = features["input_ids"][0]
    assert len(ids) == 16 and cut == [True, False]
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    words = tokenizer.decode(ids, skip_special_tokens=True).replace(" ", "")
    assert words.startswith("好吃") and words.endswith("难吃") and "服务" not in words
    assert all(len(seqs[0]) == 16 for seqs in features.values())
    assert features["input_ids"][1] == tokenizer("好吃")["input_ids"]  # short texts are untouched


def test_head_keeps_only_the_start_and_pairs_always_keep_both_parts(tokenizer):
    features, cut = encode(tokenizer, [LONG], 16, Truncation.HEAD)
    assert cut == [True] and "难吃" not in tokenizer.decode(features["input_ids"][0]).replace(" ", "")
    pair, cut = encode(tokenizer, [(LONG, "难吃难吃")], 16, Truncation.HEAD_TAIL)
    assert cut == [True] and len(pair["input_ids"][0]) == 16
    assert "难吃难吃" in tokenizer.decode(pair["input_ids"][0]).replace(" ", "")
    assert head_tail([1, 2, 3], 8) == [1, 2, 3]


def test_training_data_is_cut_by_the_configured_rule(tokenizer):
    head = EncodedDataset(tokenizer, [LONG], [0], 16, "head").items[0]["input_ids"]
    both = EncodedDataset(tokenizer, [LONG], [0], 16, "head_tail").items[0]["input_ids"]
    assert len(head) == len(both) == 16
    assert head[:4] == both[:4] and head[-4:] != both[-4:]


def test_a_version_trained_with_head_tail_is_served_with_head_tail(tmp_path, tokenizer):
    import torch

    folder = tmp_path / "v"
    shutil.copytree(trained_tiny_bert(), folder)
    write_manifest(folder, {"max_length": 16, "training_config": {"truncation": "head_tail"}})
    predictor = load_predictor(folder, "transformer", PYTORCH)
    assert predictor.truncation == "head_tail"
    predictor.windows = False  # the cut rule itself (also what the fast copy is compared with)
    texts = [LONG, "服务" * 30 + "难吃", "好吃"]
    batched = predictor.predict(texts)
    assert [p.truncated for p in batched] == [True, True, False]
    features, _ = encode(tokenizer, texts, 16, Truncation.HEAD_TAIL)
    with torch.no_grad():
        for i, p in enumerate(batched):  # each text alone, cut by hand: the same probabilities
            ids = torch.tensor([features["input_ids"][i]])
            own = torch.softmax(predictor.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0], -1)
            by_label = dict(p.probabilities)
            assert [by_label[lbl] for lbl in predictor.labels] == pytest.approx(own.tolist(), abs=1e-5)
    single = predictor.predict([texts[0]])[0]
    assert single.truncated and single.score == pytest.approx(batched[0].score, abs=1e-6)


def test_versions_from_before_the_setting_keep_the_head(tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(trained_tiny_bert(), folder)
    write_manifest(folder, {"max_length": 16, "training_config": {}})
    predictor = load_predictor(folder, "transformer", PYTORCH)
    assert predictor.truncation == "head"
    assert np.isclose(sum(p for _, p in predictor.predict([LONG])[0].probabilities), 1.0)
