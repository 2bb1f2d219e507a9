"""Windowed prediction of long texts on a real fine-tuned tiny BERT: window counts and combined logits."""

from __future__ import annotations

import numpy as np
import pytest

from llm_trainer.ml.inference.loading import PYTORCH, load_predictor
from llm_trainer.ml.inference.windows import WindowCombine, combine_window_logits, windowed_logits
from tests.helpers.versions import trained_tiny_bert

LONG = "这家店的菜很好吃，" * 20 + "送餐太慢了，饭都凉了。" * 10
SHORT = "服务很好"


@pytest.fixture(scope="module")
def predictor():
    return load_predictor(trained_tiny_bert(), "transformer", PYTORCH)


def _runner(predictor, seen: list[list[int]]):
    import torch

    def run_batch(features):
        seen.extend(f["input_ids"] for f in features)
        padded = predictor.tokenizer.pad(features, return_tensors="pt")
        with torch.no_grad():
            return predictor.model(**padded).logits.numpy()

    return run_batch


def test_long_text_is_split_into_overlapping_windows_and_short_text_uses_one(predictor):
    seen: list[list[int]] = []
    out = windowed_logits(predictor.tokenizer, [LONG, SHORT], 32, _runner(predictor, seen), stride=8)
    full = predictor.tokenizer(LONG)["input_ids"]
    assert out.windows[1] == 1
    assert out.windows[0] == len(seen) - 1 > 1
    assert all(len(ids) <= 32 for ids in seen)
    # Every token of the long text lands in some window: nothing is silently cut off.
    covered = {t for ids in seen for t in ids}
    assert set(full) <= covered
    assert out.logits.shape == (2, len(predictor.labels))


def test_combined_logits_are_the_mean_or_max_of_the_windows(predictor):
    import torch

    enc = predictor.tokenizer(LONG, truncation=True, max_length=32, stride=8, return_overflowing_tokens=True)
    with torch.no_grad():
        per_window = [predictor.model(input_ids=torch.tensor([ids])).logits[0].numpy() for ids in enc["input_ids"]]
    mean = windowed_logits(predictor.tokenizer, [LONG], 32, _runner(predictor, []), WindowCombine.MEAN, stride=8)
    top = windowed_logits(predictor.tokenizer, [LONG], 32, _runner(predictor, []), WindowCombine.MAX, stride=8)
    np.testing.assert_allclose(mean.logits[0], np.mean(per_window, axis=0), atol=1e-5)
    np.testing.assert_allclose(top.logits[0], np.max(per_window, axis=0), atol=1e-5)


def test_a_text_without_windows_is_an_error_not_a_zero_answer():
    with pytest.raises(ValueError, match="at least one window"):
        combine_window_logits(np.zeros((2, 3)), [0, 0], 2)


def test_the_predictor_reads_a_long_text_whole_in_windows_and_says_how_many(predictor):
    from llm_trainer.ml.inference.windows import encode_windows

    short, long = predictor.predict([SHORT, LONG])
    assert (short.windows, short.truncated) == (1, False)
    expected = len(encode_windows(predictor.tokenizer, [LONG], predictor.max_length)["input_ids"])
    assert long.windows == expected > 1 and not long.truncated  # nothing of it was cut off
    alone = predictor.predict([LONG])[0]
    assert alone.windows == long.windows and alone.score == pytest.approx(long.score, abs=1e-6)
    assert sum(p for _, p in long.probabilities) == pytest.approx(1.0)


def test_windows_can_be_switched_off_and_then_the_text_is_truncated(predictor):
    predictor.windows = False
    try:
        long = predictor.predict([LONG])[0]
    finally:
        predictor.windows = True
    assert (long.windows, long.truncated) == (1, True)
