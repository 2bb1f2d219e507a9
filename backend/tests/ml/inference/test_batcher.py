"""Micro-batcher around a real tiny model: merged passes under load, each caller its own answer, failures reach all."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_trainer.ml.inference.batcher import MicroBatcher
from llm_trainer.ml.inference.loading import PYTORCH, load_predictor
from tests.helpers.versions import review_texts, trained_tiny_bert


@pytest.fixture(scope="module")
def predictor():
    return load_predictor(trained_tiny_bert(), "transformer", PYTORCH)


class GatedPredict:
    """The real predictor, but the first pass waits for a gate so later requests pile up behind it."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.gate = threading.Event()
        self.batch_sizes: list[int] = []

    def __call__(self, texts):
        if not self.batch_sizes:
            self.gate.wait(10)
        self.batch_sizes.append(len(texts))
        return self.predictor.predict(texts)


def test_concurrent_callers_get_their_own_answers_from_merged_passes(predictor):
    texts = [t for t, _ in review_texts(24, seed=11)]
    expected = {t: p for t, p in zip(texts, predictor.predict(texts), strict=True)}
    gated = GatedPredict(predictor)
    batcher = MicroBatcher(gated, max_batch=32, window_ms=5)
    futures = [batcher.submit([texts[0]])]
    time.sleep(0.1)  # the worker takes the first job and waits at the gate
    with ThreadPoolExecutor(8) as pool:
        futures += list(pool.map(lambda t: batcher.submit([t]), texts[1:]))
    gated.gate.set()
    for text, future in zip(texts, futures, strict=True):
        (answer,) = future.result(10)
        assert answer.label == expected[text].label
        assert answer.score == pytest.approx(expected[text].score, abs=1e-5)
    assert len(gated.batch_sizes) < len(texts)  # requests shared forward passes
    assert max(gated.batch_sizes) > 1
    assert sum(gated.batch_sizes) == len(texts)
    batcher.close()


def test_multi_text_jobs_keep_their_order(predictor):
    batcher = MicroBatcher(predictor.predict)
    rows = review_texts(10, seed=2)
    answers = batcher.predict([t for t, _ in rows])
    assert [a.label for a in answers] == [p.label for p in predictor.predict([t for t, _ in rows])]
    batcher.close()


def test_a_failing_pass_fails_every_waiting_caller_and_the_batcher_survives(predictor):
    def fragile(texts):
        if any("坏" in t for t in texts):
            raise RuntimeError("model exploded")
        return predictor.predict(texts)

    batcher = MicroBatcher(fragile)
    with pytest.raises(RuntimeError, match="exploded"):
        batcher.predict(["坏"])
    assert batcher.predict(["好吃"])[0].label == "好评"
    batcher.close()


def test_closed_batcher_still_answers_late_callers(predictor):
    batcher = MicroBatcher(predictor.predict)
    batcher.close()
    assert batcher.predict(["难吃，太慢"])[0].label == "差评"
