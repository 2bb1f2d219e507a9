"""Dataset ingest benchmark: upload 100k- and 1M-row CSVs to a real server over HTTP; print time, rows/s, peak RSS.

Goals (issue 2): 100k rows stored in <= 3 s, 1M rows in <= 30 s, server RSS growth <= 300 MB.
Run: `make bench` or `.venv/bin/python bench/ingest.py [--sizes 100000 1000000]`.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE = REPO_ROOT.parent / "shared" / "datasets" / "waimai_10k.csv"
GOALS_S = {100_000: 3.0, 1_000_000: 30.0}
RSS_GOAL_MB = 300


def build_csv(path: Path, rows: int) -> None:
    """`rows` rows cycling through waimai_10k; a row number keeps every text distinct so none is deduplicated."""
    with open(SOURCE, encoding="utf-8", newline="") as fh:
        base = list(csv.reader(fh))[1:]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(
            (f"{base[i % len(base)][0]} #{i}", base[i % len(base)][1])
            for i in range(rows)
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "LLM_TRAINER_DATA_DIR": str(data_dir),
        "LLM_TRAINER_MAX_UPLOAD_MB": "1024",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_trainer.cli", "serve", "--port", str(port)],
        env=env,
        cwd=REPO_ROOT / "backend",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


class RssSampler(threading.Thread):
    """Samples a process's resident memory every 10 ms; `peak` is the highest value seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def upload(url: str, path: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    with open(path, "rb") as fh:  # httpx streams the file object in chunks
        r = httpx.post(
            url + "/upload", files={"file": (path.name, fh, "text/csv")}, timeout=600
        )
    elapsed = time.perf_counter() - started
    if r.status_code != 201:
        raise SystemExit(f"upload failed: {r.status_code} {r.text[:500]}")
    return elapsed, r.json()


def measure(rows: int, tmp: Path) -> dict:
    """Upload a `rows`-row CSV to a fresh server (RSS growth of one upload, not the sum of several)."""
    csv_path = tmp / f"waimai_{rows}.csv"
    build_csv(csv_path, rows)
    proc, url = start_server(tmp / f"data_{rows}")
    try:
        sampler = RssSampler(proc.pid)
        base_rss = sampler.peak
        sampler.start()
        elapsed, body = upload(url, csv_path)
        growth_mb = (sampler.stop() - base_rss) / 2**20
    finally:
        proc.terminate()
        proc.wait(10)
    goal = GOALS_S.get(rows)
    stored = body["row_count"]
    return {
        "rows": rows,
        "file_mb": round(csv_path.stat().st_size / 2**20, 1),
        "seconds": round(elapsed, 2),
        "server_s": body["report"]["ingest_seconds"],
        "rows_per_s": round(rows / elapsed),
        "rss_growth_mb": round(growth_mb, 1),
        "stored": stored,
        "goal_s": goal,
        "met": (goal is None or elapsed <= goal)
        and growth_mb <= RSS_GOAL_MB
        and stored == rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(
        f"{'rows':>9} {'file MB':>8} {'seconds':>8} {'server s':>8} {'rows/s':>9} {'RSS +MB':>8} {'goal':>12}"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="llmt-bench-") as tmp:
        for rows in args.sizes:
            r = measure(rows, Path(tmp))
            ok &= r["met"]
            goal = r["goal_s"]
            goal_txt = (
                f"<={goal:.0f}s {'ok' if r['met'] else 'MISSED'}"
                if goal
                else ("ok" if r["met"] else "MISSED")
            )
            print(
                f"{rows:>9} {r['file_mb']:>8.1f} {r['seconds']:>8.2f} {r['server_s']:>8.2f} "
                f"{r['rows_per_s']:>9} {r['rss_growth_mb']:>8.1f} {goal_txt:>12}"
            )
    print(
        "seconds: HTTP upload to 201 (file transfer, parse, validate, insert, commit); server s: ingest part"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
