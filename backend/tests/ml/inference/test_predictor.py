"""Predictors on a real fine-tuned tiny BERT: probabilities, ordering, truncation, ONNX/int8 exports, TF-IDF."""

from __future__ import annotations

import numpy as np
import pytest

from llm_trainer.ml.inference.export import build_export, compare_to_reference
from llm_trainer.ml.inference.loading import ONNX, ONNX_INT8, PYTORCH, export_path, load_predictor
from tests.helpers.versions import review_texts, trained_tiny_bert


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import shutil

    folder = tmp_path_factory.mktemp("version") / "v"
    shutil.copytree(trained_tiny_bert(), folder)
    return folder


@pytest.fixture(scope="module")
def torch_predictor(model_dir):
    return load_predictor(model_dir, "transformer", PYTORCH)


def test_probabilities_sum_to_one_sorted_and_match_model_logits(torch_predictor):
    import torch

    texts = ["这家店好吃，不错", "送餐太慢，难吃", "服务很好"]
    predictions = torch_predictor.predict(texts)
    model, tokenizer = torch_predictor.model, torch_predictor.tokenizer
    for text, p in zip(texts, predictions, strict=True):
        probs = [prob for _, prob in p.probabilities]
        assert sum(probs) == pytest.approx(1.0, abs=1e-9)
        assert probs == sorted(probs, reverse=True)
        assert (p.label, p.score) == p.probabilities[0]
        with torch.no_grad():  # the model's own answer for this text alone, no padding involved
            own = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits[0], -1)
        by_label = dict(p.probabilities)
        for i, label in model.config.id2label.items():
            assert by_label[label] == pytest.approx(float(own[int(i)]), abs=1e-5)


def test_trained_version_predicts_meaningfully_and_keeps_input_order(torch_predictor):
    rows = review_texts(40, seed=7)
    texts = [t for t, _ in rows]
    batched = torch_predictor.predict(texts)  # length-sorted internally
    assert np.mean([p.label == lbl for p, (_, lbl) in zip(batched, rows, strict=True)]) >= 0.9
    one_by_one = [torch_predictor.predict([t])[0] for t in texts[:8]]
    for a, b in zip(batched[:8], one_by_one, strict=True):
        assert a.label == b.label and a.score == pytest.approx(b.score, abs=1e-5)


def test_texts_longer_than_max_length_are_read_in_windows_or_flagged_when_cut(torch_predictor):
    short, long = torch_predictor.predict(["好吃", "不错" * 200])
    assert not short.truncated and short.windows == 1
    assert not long.truncated and long.windows > 1
    torch_predictor.windows = False
    try:
        assert torch_predictor.predict(["不错" * 200])[0].truncated
    finally:
        torch_predictor.windows = True


def test_onnx_and_int8_exports_agree_with_pytorch(model_dir, torch_predictor):
    build_export(model_dir, ONNX_INT8)
    assert export_path(model_dir, ONNX).is_file() and export_path(model_dir, ONNX_INT8).is_file()
    rows = review_texts(40, seed=3)
    texts, labels = [t for t, _ in rows], [lbl for _, lbl in rows]
    reference, _ = torch_predictor.probabilities(texts)
    for variant, tolerance in ((ONNX, 1e-4), (ONNX_INT8, 0.1)):
        candidate = load_predictor(model_dir, "transformer", variant)
        report = compare_to_reference(reference, torch_predictor.labels, candidate, texts, labels)
        assert report["samples"] == 40
        assert report["max_probability_diff"] < tolerance
        assert report["agreement"] >= 0.9
        assert abs(report["accuracy_delta"]) <= 0.1
        windowed, reference_long = candidate.predict(["不错" * 200])[0], torch_predictor.predict(["不错" * 200])[0]
        assert windowed.windows == reference_long.windows > 1  # ONNX reads long texts in the same windows
        assert windowed.score == pytest.approx(reference_long.score, abs=tolerance)


def test_an_exported_copy_is_checked_against_its_reference_read_as_the_reference_was(model_dir, torch_predictor):
    build_export(model_dir, ONNX)
    rows = review_texts(40, seed=3)
    good, bad = [t for t, lbl in rows if lbl == "好评"], [t for t, lbl in rows if lbl == "差评"]
    texts = [good[0], bad[0], "，".join(bad * 20 + good * 60)]  # the last: long, complaints past the cut, then praise
    served, cut = torch_predictor.scored(texts)[0], torch_predictor.probabilities(texts)[0]
    assert np.abs(served[-1] - cut[-1]).max() > 1e-3, "windows and the cut read the long text differently"
    candidate = load_predictor(model_dir, "transformer", ONNX)
    classes = torch_predictor.labels
    assert compare_to_reference(served, classes, candidate, texts, None)["max_probability_diff"] < 1e-4
    older = compare_to_reference(cut, classes, candidate, texts, None, windowed=False)  # saved before windows
    assert older["max_probability_diff"] < 1e-4


def test_tfidf_version_is_a_predictor_too(settings):
    from tests.helpers.versions import make_tfidf_version

    version_id = make_tfidf_version(settings)
    predictor = load_predictor(settings.models_dir / str(version_id), "tfidf", "tfidf")
    good, bad = predictor.predict(["这家店很好吃，推荐", "太慢了，难吃，失望"])
    assert (good.label, bad.label) == ("好评", "差评")
    assert sum(p for _, p in good.probabilities) == pytest.approx(1.0)


def test_exported_custom_head_version_serves_from_a_fresh_process(tmp_path):
    """A mean-pooling (embedded e5 style) version's ONNX variant loads after a restart, before anything registered
    the custom head with transformers."""
    import subprocess
    import sys

    from transformers import AutoTokenizer

    from llm_trainer.ml.base_models.heads import MeanPoolBertConfig, MeanPoolBertForSequenceClassification

    folder = tmp_path / "mean-pool"
    tokenizer = AutoTokenizer.from_pretrained(trained_tiny_bert())
    config = MeanPoolBertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, num_labels=2, id2label={0: "差评", 1: "好评"}, label2id={"差评": 0, "好评": 1},
    )  # fmt: skip
    MeanPoolBertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    build_export(folder, ONNX)
    code = (
        "import sys; from pathlib import Path; from llm_trainer.ml.inference.loading import load_predictor; "
        f"p = load_predictor(Path({str(folder)!r}), 'transformer', 'onnx'); "
        "a = p.predict(['好吃' * 100])[0]; print(p.labels, p.max_length, a.truncated, a.windows > 1)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "['差评', '好评'] 64 False True"  # read whole, in windows


def test_token_batches_group_similar_lengths_within_limits():
    from llm_trainer.ml.inference.predictor import token_batches

    lengths = [5, 120, 6, 5, 7, 300, 6, 5]
    batches = token_batches(lengths, max_texts=3, max_tokens=40)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every text exactly once
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 40
    assert [5] in batches and [1] in batches  # the long texts never pad a batch of short ones
