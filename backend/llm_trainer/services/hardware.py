"""Hardware summary (CPU, RAM, GPUs) for the UI, without importing torch until someone asks."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from typing import Any

import psutil


@lru_cache(maxsize=1)
def _accelerators() -> tuple[bool, bool, bool, tuple[tuple[int, str], ...]]:
    """(torch installed, CUDA, MPS, GPU names): torch is imported here on first use and the answer cached."""
    if importlib.util.find_spec("torch") is None:
        return False, False, False, ()
    import torch  # deferred: a multi-second import the server pays only when asked

    cuda = bool(torch.cuda.is_available())
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend and mps_backend.is_available())
    names = tuple((i, torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())) if cuda else ()
    return True, cuda, mps, names


def has_accelerator() -> bool:
    """True when torch sees a CUDA or MPS device (training then does not share the CPU's cores with the server)."""
    _, cuda, mps, _ = _accelerators()
    return cuda or mps


def _gpu(index: int, name: str) -> dict[str, Any]:
    import torch

    try:
        free, total = torch.cuda.mem_get_info(index)
    except Exception:  # a busy or odd device must not break the summary
        return {"index": index, "name": name}
    return {"index": index, "name": name, "memory_total_bytes": int(total), "memory_used_bytes": int(total - free)}


def hardware_summary() -> dict[str, Any]:
    """CPU cores and load, RAM, and the accelerators torch can see."""
    torch_ok, cuda, mps, names = _accelerators()
    memory = psutil.virtual_memory()
    return {
        "cpu_count": psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory_total_bytes": memory.total,
        "memory_available_bytes": memory.available,
        "torch_available": torch_ok,
        "cuda_available": cuda,
        "mps_available": mps,
        "gpus": [_gpu(i, n) for i, n in names],
    }
