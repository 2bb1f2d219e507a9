"""Hostile-input timing through real HTTP (uvicorn): every case of the hostile-input catalogue, its answer, how long
the server took to answer it, and how long `/api/health` took right after (goal: under 1 s after every case).

Run: `.venv/bin/python bench/hostile.py` (the catalogue is the one tests/api/test_hostile_input.py asserts on).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "bench"))
from ingest import start_server
from tests.api.test_hostile_input import JSON_CASES, UPLOADS, send

HEALTH_GOAL_S = 1.0


def timed(fn) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = fn()
    return response, time.perf_counter() - started


def run_cases(http: httpx.Client) -> list[tuple[str, int, str, float, float]]:
    rows = []
    cases = [
        (f"upload/{name}", lambda u=upload: send(http, u))
        for name, (upload, _, _) in UPLOADS.items()
    ]
    for name, (method, path, body, _, _) in JSON_CASES.items():
        if isinstance(body, bytes):
            call = lambda m=method, p=path, b=body: http.request(
                m, p, content=b, headers={"content-type": "application/json"}
            )
        else:
            call = lambda m=method, p=path, b=body: http.request(m, p, json=b)
        cases.append((f"request/{name}", call))
    for name, call in cases:
        response, took = timed(call)
        health, health_s = timed(lambda: http.get("/api/health"))
        assert health.status_code == 200, f"health failed after {name}"
        code = (
            response.json().get("code", "")
            if response.headers.get("content-type", "").startswith("application/json")
            else ""
        )
        rows.append((name, response.status_code, code or "", took, health_s))
    return rows


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as data_dir:
        server, url = start_server(Path(data_dir))
        try:
            with httpx.Client(base_url=url, timeout=600) as http:
                rows = run_cases(http)
        finally:
            server.terminate()
            server.wait(30)
    print(f"{'case':<44} {'status':>6} {'code':<26} {'answer s':>9} {'health s':>9}")
    for name, status, code, took, health_s in rows:
        print(f"{name:<44} {status:>6} {code:<26} {took:>9.3f} {health_s:>9.3f}")
    worst = max(rows, key=lambda r: r[4])
    slowest = max(rows, key=lambda r: r[3])
    print(f"\n{len(rows)} cases; slowest answer {slowest[3]:.2f} s ({slowest[0]}); "
          f"worst health-after {worst[4]:.3f} s ({worst[0]}); goal < {HEALTH_GOAL_S} s: "
          f"{'met' if worst[4] < HEALTH_GOAL_S else 'MISSED'}")  # fmt: skip
    return 0 if worst[4] < HEALTH_GOAL_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
