"""Model cache: one load per (version, variant) even under concurrent first requests, LRU eviction, evict on delete."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_trainer.ml.inference.cache import ModelCache
from llm_trainer.ml.inference.loading import PYTORCH, load_predictor
from tests.helpers.versions import trained_tiny_bert


@pytest.fixture(scope="module")
def predictor():
    return load_predictor(trained_tiny_bert(), "transformer", PYTORCH)


class CountingLoader:
    def __init__(self, predictor, delay: float = 0.0):
        self.predictor, self.delay, self.calls = predictor, delay, 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1
        time.sleep(self.delay)  # stands for reading weights from disk
        return self.predictor


def test_concurrent_first_requests_load_once_and_report_the_wait(predictor):
    cache = ModelCache(2)
    loader = CountingLoader(predictor, delay=0.2)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: cache.get((1, PYTORCH), loader), range(6)))
    assert loader.calls == 1
    assert len({id(entry) for entry, _ in results}) == 1
    assert all(waited is not None and waited > 0 for _, waited in results)  # each paid (part of) the load
    entry, waited = cache.get((1, PYTORCH), loader)
    assert waited is None  # a hit
    assert entry.batcher.predict(["好吃"])[0].label == "好评"
    cache.clear()


def test_least_recently_used_is_evicted_and_delete_unloads_every_variant(predictor):
    cache = ModelCache(2)
    loader = CountingLoader(predictor)
    cache.get((1, "pytorch"), loader)
    cache.get((2, "pytorch"), loader)
    cache.get((1, "pytorch"), loader)  # 1 is now the most recent
    cache.get((3, "pytorch"), loader)
    assert set(cache.loaded()) == {(1, "pytorch"), (3, "pytorch")}
    cache.get((3, "onnx"), loader)
    assert set(cache.loaded()) == {(3, "pytorch"), (3, "onnx")}
    assert cache.evict(3) == 2
    assert cache.loaded() == []
    assert loader.calls == 4  # 1, 2, 3 and 3/onnx; the second get of 1 was a hit
