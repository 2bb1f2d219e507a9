"""`GET /api/system` reports this machine's CPU and RAM and what torch can see."""

from __future__ import annotations

import os

import psutil


def test_system_reports_cpu_ram_and_accelerators(client):
    res = client.get("/api/system")
    assert res.status_code == 200
    body = res.json()
    assert body["cpu_count"] == (psutil.cpu_count(logical=True) or os.cpu_count())
    assert body["memory_total_bytes"] == psutil.virtual_memory().total
    assert 0 < body["memory_available_bytes"] <= body["memory_total_bytes"]
    assert body["torch_available"] is True  # the venv has CPU torch
    assert body["cuda_available"] is (len(body["gpus"]) > 0)
