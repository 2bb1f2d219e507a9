"""Small generated Chinese review data and API shortcuts that let each browser test stand on its own."""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path

import httpx

POSITIVE = ["味道很好", "送餐很快", "分量足", "服务热情", "包装精致", "性价比高", "还会再来", "推荐大家"]
NEGATIVE = ["太难吃了", "送餐太慢", "饭都凉了", "分量太少", "服务很差", "包装破了", "不会再点", "差评"]


def review_rows(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """n short reviews, half 好评 and half 差评, each two phrases of its class plus a varying dish name."""
    rng = random.Random(seed)
    dishes = ["牛肉面", "炒饭", "饺子", "麻辣烫", "披萨", "寿司", "汉堡", "米线"]
    rows = []
    for i in range(n):
        good = i % 2 == 0
        phrases = rng.sample(POSITIVE if good else NEGATIVE, 2)
        rows.append((f"{rng.choice(dishes)}{phrases[0]}，{phrases[1]}。第{i}单", "好评" if good else "差评"))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("text", "label")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def all_texts(rows: list[tuple[str, str]]) -> list[str]:
    return [t for t, _ in rows]


def upload(server: str, path: Path, name: str) -> dict:
    with path.open("rb") as f:
        r = httpx.post(f"{server}/upload", files={"file": (path.name, f, "text/csv")}, data={"name": name}, timeout=60)
    r.raise_for_status()
    return r.json()


def start_run(server: str, dataset_id: int, base_model: str, **config) -> dict:
    r = httpx.post(
        f"{server}/train", json={"dataset_id": dataset_id, "base_model": base_model, "config": config}, timeout=30
    )
    r.raise_for_status()
    return r.json()


def wait_run(server: str, run_id: int, statuses: set[str], timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = httpx.get(f"{server}/api/runs/{run_id}", timeout=10).json()
        if run["status"] in statuses:
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not reach {statuses} in {timeout}s (last: {run['status']})")
