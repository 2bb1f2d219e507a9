"""LRU cache of loaded predictors: each (version, variant) loads once, even under concurrent first requests."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from llm_trainer.ml.inference.batcher import MicroBatcher
from llm_trainer.ml.inference.predictor import Predictor

Key = tuple[int, str]  # (version id, serving variant)


@dataclass
class LoadedModel:
    key: Key
    predictor: Predictor
    batcher: MicroBatcher
    load_ms: float


class ModelCache:
    """Thread-safe LRU; `get` says how long the caller waited for a load (None on a hit)."""

    def __init__(self, capacity: int):
        self.capacity = max(1, capacity)
        self._entries: OrderedDict[Key, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        # One lock per key ever requested (a handful): kept, so late arrivals never start a second load.
        self._loading: dict[Key, threading.Lock] = {}

    def get(self, key: Key, load: Callable[[], Predictor]) -> tuple[LoadedModel, float | None]:
        entry = self._hit(key)
        if entry:
            return entry, None
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        started = time.perf_counter()
        with key_lock:  # a second caller for the same key waits here instead of loading it again
            entry = self._hit(key)
            if entry is None:
                t0 = time.perf_counter()
                predictor = load()
                load_ms = (time.perf_counter() - t0) * 1000
                batcher = MicroBatcher(predictor.predict, name=f"batcher-{key[0]}-{key[1]}")
                entry = LoadedModel(key, predictor, batcher, load_ms)
                self._insert(entry)
        return entry, (time.perf_counter() - started) * 1000

    def evict(self, version_id: int, variant: str | None = None) -> int:
        """Unload every variant of a version (or one variant); returns how many were loaded."""
        with self._lock:
            keys = [k for k in self._entries if k[0] == version_id and variant in (None, k[1])]
            removed = [self._entries.pop(k) for k in keys]
        for entry in removed:
            entry.batcher.close()
        return len(removed)

    def clear(self) -> None:
        with self._lock:
            removed = list(self._entries.values())
            self._entries.clear()
        for entry in removed:
            entry.batcher.close()

    def loaded(self) -> list[Key]:
        with self._lock:
            return list(self._entries)

    def _hit(self, key: Key) -> LoadedModel | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry:
                self._entries.move_to_end(key)
            return entry

    def _insert(self, entry: LoadedModel) -> None:
        with self._lock:
            self._entries[entry.key] = entry
            evicted = []
            while len(self._entries) > self.capacity:
                evicted.append(self._entries.popitem(last=False)[1])
        for old in evicted:
            old.batcher.close()
