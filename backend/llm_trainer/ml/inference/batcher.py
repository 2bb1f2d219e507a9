"""Micro-batcher: concurrent requests for one model are merged into one forward pass, each caller gets its own slice."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from llm_trainer.ml.inference.predictor import Prediction

DEFAULT_MAX_BATCH = 32
DEFAULT_WINDOW_MS = 3.0

PredictFn = Callable[[list[str]], list[Prediction]]


@dataclass
class _Job:
    texts: list[str]
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """One worker thread per loaded model serialises its forward passes and batches whatever is waiting.

    A lone client never waits: the window is only spent when the previous pass served several callers,
    i.e. when there is load to gain from. Under load, up to `max_batch` texts share one pass.
    """

    def __init__(
        self,
        predict: PredictFn,
        max_batch: int = DEFAULT_MAX_BATCH,
        window_ms: float = DEFAULT_WINDOW_MS,
        name: str = "micro-batcher",
    ):
        self._predict = predict
        self.max_batch = max_batch
        self.window_s = window_ms / 1000
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self.batches_run = 0
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, texts: Sequence[str]) -> Future:
        """Queue texts; the future resolves to their predictions in the same order."""
        job = _Job(list(texts))
        with self._lock:
            closed = self._closed
            if not closed:
                self._queue.put(job)
        if closed:
            # Evicted while a caller still held it: answer directly rather than fail the request.
            self._run([job])
        return job.future

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return self.submit(texts).result()

    def close(self) -> None:
        """Stop after the jobs already queued; later submits run in the caller's thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        # Wait for the loop to end: a thread still inside torch when the interpreter exits aborts the process
        # ("terminate called without an active exception"), which killed `llm-trainer predict` at exit.
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        under_load = False
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs, stop = self._collect(first, under_load)
            under_load = len(jobs) > 1
            self._run(jobs)
            if stop:
                return

    def _collect(self, first: _Job, wait: bool) -> tuple[list[_Job], bool]:
        jobs, size, deadline = [first], len(first.texts), time.monotonic() + self.window_s
        while size < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                job = self._queue.get(timeout=remaining) if wait and remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            size += len(job.texts)
        return jobs, False

    def _run(self, jobs: list[_Job]) -> None:
        texts = [t for job in jobs for t in job.texts]
        try:
            predictions = self._predict(texts)
        except BaseException as exc:  # every waiting caller must hear about the failure
            for job in jobs:
                job.future.set_exception(exc)
            return
        self.batches_run += 1
        self.largest_batch = max(self.largest_batch, len(jobs))
        start = 0
        for job in jobs:
            job.future.set_result(predictions[start : start + len(job.texts)])
            start += len(job.texts)
