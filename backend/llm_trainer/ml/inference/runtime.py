"""Process-wide CPU settings for inference, applied once before the first model loads."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

_lock = threading.Lock()
_configured = False


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
        _import_torch_with_passive_openmp()
        import torch

        torch.set_num_threads(cpu_threads())
        # Fixed for good once a parallel region ran (e.g. a test that trained first): keep what is there then.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
        _configured = True


def _import_torch_with_passive_openmp() -> None:
    """OpenMP reads OMP_WAIT_POLICY once, when torch loads it. PASSIVE makes idle threads sleep instead of spin:
    on shared cores (a training worker, other processes) spinning threads starve the ones doing work, and a 25 ms
    forward pass was measured taking up to a second. The variable is removed again so processes started later
    (training workers) keep their own default. An explicit user setting is left alone."""
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ:
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import torch  # noqa: F401
    finally:
        del os.environ["OMP_WAIT_POLICY"]
