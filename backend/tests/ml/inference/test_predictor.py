"""Predictors on a real fine-tuned tiny BERT: probabilities, ordering, truncation, ONNX/int8 exports, TF-IDF."""

from __future__ import annotations

import numpy as np
import pytest

from llm_trainer.ml.inference.export import build_export, compare_variants
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


def test_texts_longer_than_max_length_are_flagged(torch_predictor):
    short, long = torch_predictor.predict(["好吃", "不错" * 200])
    assert not short.truncated
    assert long.truncated


def test_onnx_and_int8_exports_agree_with_pytorch(model_dir, torch_predictor):
    build_export(model_dir, ONNX_INT8)
    assert export_path(model_dir, ONNX).is_file() and export_path(model_dir, ONNX_INT8).is_file()
    rows = review_texts(40, seed=3)
    texts, labels = [t for t, _ in rows], [lbl for _, lbl in rows]
    for variant, tolerance in ((ONNX, 1e-4), (ONNX_INT8, 0.1)):
        candidate = load_predictor(model_dir, "transformer", variant)
        report = compare_variants(torch_predictor, candidate, texts, labels)
        assert report["samples"] == 40
        assert report["max_probability_diff"] < tolerance
        assert report["agreement"] >= 0.9
        assert abs(report["accuracy_delta"]) <= 0.1
        assert candidate.predict(["不错" * 200])[0].truncated


def test_tfidf_version_is_a_predictor_too(settings):
    from tests.helpers.versions import make_tfidf_version

    version_id = make_tfidf_version(settings)
    predictor = load_predictor(settings.models_dir / str(version_id), "tfidf", "tfidf")
    good, bad = predictor.predict(["这家店很好吃，推荐", "太慢了，难吃，失望"])
    assert (good.label, bad.label) == ("好评", "差评")
    assert sum(p for _, p in good.probabilities) == pytest.approx(1.0)
