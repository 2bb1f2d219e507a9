"""Polling helpers for tests that watch real training runs through the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

TERMINAL = {"succeeded", "stopped", "failed", "cancelled", "interrupted"}


def wait_run(get: Callable[[str], Any], run_id: int, until: Callable[[dict], bool], timeout: float = 120) -> dict:
    """Poll GET /api/runs/{id} until `until(run)` holds; fail with the run's state (and log tail) on timeout."""
    deadline = time.monotonic() + timeout
    run: dict = {}
    while time.monotonic() < deadline:
        run = get(f"/api/runs/{run_id}").json()
        if until(run):
            return run
        if run.get("status") in TERMINAL and not until(run):
            break
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not reach the expected state: {run.get('status')} {run}")


def finished(run: dict) -> bool:
    return run["status"] in TERMINAL


def wait_fast_copy(get: Callable[[str], Any], version_id: int, timeout: float = 120) -> dict:
    """Poll GET /api/models/{id} until the fast-serving export queued after training has ended (its ONNX variant
    is no longer `building`); returns the version detail."""
    deadline = time.monotonic() + timeout
    detail: dict = {}
    while time.monotonic() < deadline:
        detail = get(f"/api/models/{version_id}").json()
        if detail["variants"]["onnx"]["status"] != "building":
            return detail
        time.sleep(0.3)
    raise AssertionError(f"the ONNX copy of version {version_id} was still building: {detail}")


def default_answerer(detail: dict, alone: str) -> str:
    """The variant a freshly trained version answers with by default: its blend with the baseline where training
    found the blend better on validation, else `alone` (PyTorch, or ONNX once its fast copy is built)."""
    return "ensemble" if (detail["metrics"].get("ensemble") or {}).get("offered") else alone
