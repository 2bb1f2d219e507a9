"""File prediction benchmark through real HTTP: a TF-IDF version predicts a 1M-row CSV in the background; prints
time, rows/s and the server's peak memory growth once the model is loaded (the input and output are streamed, so growth stays flat).

Run: `.venv/bin/python bench/batch.py [--rows 1000000]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import SOURCE, RssSampler, build_csv, start_server, upload

RSS_GOAL_MB = 300


def wait(url: str, path: str, done: set[str], timeout: float = 3600) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = httpx.get(url + path, timeout=30).json()
        if body["status"] in done:
            return body
        time.sleep(0.5)
    raise SystemExit(f"{path} did not finish")


def tfidf_version(url: str) -> int:
    _, dataset = upload(url, SOURCE)
    run = httpx.post(
        url + "/train",
        json={"dataset_id": dataset["id"], "base_model": "tfidf"},
        timeout=60,
    ).json()
    finished = wait(url, f"/api/runs/{run['id']}", {"succeeded", "failed"})
    if finished["status"] != "succeeded":
        raise SystemExit(f"baseline run failed: {finished}")
    return finished["model_version_ids"][-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llmt-bench-batch-") as tmp:
        csv_path = Path(tmp) / "to_predict.csv"
        build_csv(csv_path, args.rows)
        proc, url = start_server(Path(tmp) / "data")
        try:
            version_id = tfidf_version(url)
            # Load the version first: the growth measured is the file's, not the model's.
            httpx.post(
                url + "/predict",
                json={"text": "好吃", "model_id": version_id},
                timeout=120,
            ).raise_for_status()
            size_mb = csv_path.stat().st_size / 1e6
            sampler = RssSampler(proc.pid)
            base_rss = sampler.peak
            sampler.start()
            started = time.perf_counter()
            with open(csv_path, "rb") as fh:
                job = httpx.post(url + "/api/predict/batch", files={"file": (csv_path.name, fh, "text/csv")},
                                 data={"model_id": str(version_id)}, timeout=600).json()  # fmt: skip
            finished = wait(
                url, f"/api/predict/batch/{job['id']}", {"succeeded", "failed"}
            )
            elapsed = time.perf_counter() - started
            growth_mb = (sampler.stop() - base_rss) / 2**20
        finally:
            proc.terminate()
            proc.wait(10)
    met = finished["status"] == "succeeded" and growth_mb <= RSS_GOAL_MB
    print(
        f"{'rows':>9} {'file MB':>8} {'status':>10} {'seconds':>8} {'rows/s':>8} {'RSS +MB':>8} {'goal':>14}"
    )
    print(f"{args.rows:>9,} {size_mb:>8.1f} {finished['status']:>10} {elapsed:>8.1f} {args.rows / elapsed:>8.0f} "
          f"{growth_mb:>8.0f} {'<=' + str(RSS_GOAL_MB) + ' MB ' + ('ok' if met else 'MISSED'):>14}")  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
