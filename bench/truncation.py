"""Head-only vs head+tail truncation of long texts, both sides in one invocation, through the product's own path.

Usage: nice -n 10 .venv/bin/python bench/truncation.py [--dataset waimai_10k.csv] [--min-chars 30] [--rows 1500]
       [--max-length 24] [--epochs 2] [--e5-cache DIR]
Takes `--rows` texts of at least `--min-chars` characters (stratified sample, seed 0), trains the embedded model on
the same 80/20 split with `truncation=head` and `truncation=head_tail` at the same max length, and prints accuracy,
macro-F1, the truncated share and wall time of each, with the differences. The machine's cores may be shared: say so.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from bench_data_dir import (
    add_e5_cache,
    finish_long_text_bench,
    long_text_sample,
    train_once,
)

RAW = argparse.RawDescriptionHelpFormatter
DATASETS = ROOT.parent / "shared" / "datasets"


def sample_file(source: Path, min_chars: int, rows: int, out: Path) -> Path:
    """A stratified random sample of the long-enough rows of a text,label CSV."""
    with source.open(encoding="utf-8", newline="") as f:
        kept = [r for r in csv.DictReader(f) if len(r["text"]) >= min_chars]
    rng = random.Random(0)
    rng.shuffle(kept)
    share = min(1.0, rows / len(kept))
    by_label: dict[str, list[dict]] = {}
    for r in kept:
        by_label.setdefault(r["label"], []).append(r)
    chosen = [
        r
        for group in by_label.values()
        for r in group[: max(2, round(len(group) * share))]
    ]
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([r["text"], r["label"]] for r in chosen)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=RAW)
    ap.add_argument(
        "--dataset",
        default="waimai_10k.csv",
        help="A text,label CSV under ../shared/datasets.",
    )
    ap.add_argument("--min-chars", type=int, default=30)
    ap.add_argument("--rows", type=int, default=1500)
    ap.add_argument("--max-length", type=int, default=24)
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--base-model", default="embedded:multilingual-e5-small")
    add_e5_cache(ap)
    args = ap.parse_args()
    from llm_trainer.ml.training.config import TrainingConfig

    settings, factory, dataset_id, n_rows, scratch = long_text_sample(
        args, "bench-truncation-"
    )
    results = {}
    for rule in ("head", "head_tail"):
        config = TrainingConfig(
            epochs=args.epochs,
            max_length=args.max_length,
            truncation=rule,
            fast_serving=False,
            time_budget_minutes=0,  # both sides train the same recipe
        )
        results[rule] = train_once(
            settings, factory, dataset_id, args.base_model, config
        )
    print(
        f"\n{args.dataset}: {n_rows} rows of >= {args.min_chars} chars, max_length {args.max_length}, "
        f"epochs {args.epochs}, {args.base_model}, cores {os.cpu_count()}"
    )
    print(
        "| truncation | accuracy | macro-F1 | truncated | wall s |\n|---|---|---|---|---|"
    )
    for rule, (m, wall) in results.items():
        print(
            f"| {rule} | {m.get('accuracy', 0):.4f} | {m.get('macro_f1', 0):.4f} | "
            f"{m.get('truncation_share', 0):.1%} | {wall:.0f} |"
        )
    (head, _), (both, _) = results["head"], results["head_tail"]
    for key in ("accuracy", "macro_f1"):
        print(
            f"head_tail - head {key}: {(both.get(key, 0) - head.get(key, 0)) * 100:+.1f} pt"
        )
    return finish_long_text_bench(head, scratch)


if __name__ == "__main__":
    sys.exit(main())
