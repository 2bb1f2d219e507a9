"""Process-wide CPU settings for inference, applied once before the first model loads."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_configured = False
_torch_thread_lock = threading.Lock()
_torch_thread: ThreadPoolExecutor | None = None
_on_torch_thread = threading.local()
_transformers_lock = threading.Lock()
_transformers_ready = False
# The transformers names that serving, exports and batch jobs resolve, in threads of their own.
TRANSFORMERS_NAMES = (
    "AutoConfig",
    "AutoTokenizer",
    "PreTrainedTokenizerFast",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "AutoModelForCausalLM",
    "BertConfig",
    "StoppingCriteria",
    "StoppingCriteriaList",
)


def cpu_threads() -> int:
    """Cores this process may use (respects taskset/cgroup affinity, unlike os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def configure_torch() -> None:
    """Intra-op threads = cores and one inter-op thread: requests are serialised per model by the batcher,
    so one forward pass should use every core instead of several passes fighting over them."""
    global _configured
    with _lock:
        if _configured:
            return
        _import_torch_with_short_openmp_spin()
        import torch

        torch.set_num_threads(cpu_threads())
        # Fixed for good once a parallel region ran (e.g. a test that trained first): keep what is there then.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
        _configured = True


# Idle OpenMP threads spin this long before sleeping: libgomp counts spins (~0.2 ms here), LLVM/Intel OpenMP
# (macOS, Windows builds) milliseconds.
SHORT_SPIN = {"GOMP_SPINCOUNT": "10000", "KMP_BLOCKTIME": "1"}
USER_OPENMP_VARS = ("OMP_WAIT_POLICY", *SHORT_SPIN)


def _import_torch_with_short_openmp_spin() -> None:
    """OpenMP reads its wait settings once, when torch loads it. A forward pass is ~100 parallel regions back to
    back: threads that sleep between them (OMP_WAIT_POLICY=PASSIVE) pay a wake-up each time (fp32 p50 25.8 ms),
    threads that spin the default ~300k rounds starve a training worker sharing the cores and get starved by it
    (p50 100 ms, p95 292 ms next to a busy process). A short spin serves both: 20.0 ms quiet, 57.9 ms next to the
    busy process (PASSIVE: 83.4). The variables are removed again so processes started later (training workers)
    keep their own defaults. Any explicit user setting is left alone."""
    if "torch" in sys.modules or any(var in os.environ for var in USER_OPENMP_VARS):
        return
    os.environ.update(SHORT_SPIN)
    try:
        import torch  # noqa: F401
    finally:
        for var in SHORT_SPIN:
            del os.environ[var]


def import_transformers() -> None:
    """Resolve transformers' lazily imported names once, under a lock, before a thread uses them.

    transformers resolves its top-level names on first access (_LazyModule), which is not thread-safe: an export job
    and a model load starting at once failed with "cannot import name 'AutoModelForSequenceClassification'" (or an
    AttributeError). Every thread that does model work calls this first; after the first call it costs nothing."""
    global _transformers_ready
    if _transformers_ready:
        return
    with _transformers_lock:
        if _transformers_ready:
            return
        import transformers

        for name in TRANSFORMERS_NAMES:
            getattr(transformers, name)
        _transformers_ready = True


def on_torch_thread(fn: Callable[..., T], *args: object) -> T:
    """Run torch work on the process's one torch thread and wait for it (direct call when already there).

    libgomp keeps an OpenMP pool per thread that ever ran a parallel region, and once pools hold more threads than
    there are cores it cuts every pool's spinning to ~100 rounds: a second thread touching torch (a model loaded
    in a request thread, a second model's batcher) took the fp32 forward from 19.8 to 25.2 ms for good.
    """
    global _torch_thread
    if getattr(_on_torch_thread, "active", False):
        return fn(*args)
    with _torch_thread_lock:
        if _torch_thread is None:
            # Not a daemon: at exit Python joins it idle, never inside torch (which aborted the process).
            _torch_thread = ThreadPoolExecutor(1, thread_name_prefix="torch", initializer=_start_torch_thread)
        executor = _torch_thread
    return executor.submit(fn, *args).result()


def _start_torch_thread() -> None:
    _on_torch_thread.active = True
    configure_torch()
    import_transformers()
    import torch

    # OpenMP's thread count is a per-thread setting: apply it on the thread that does the work.
    torch.set_num_threads(cpu_threads())
