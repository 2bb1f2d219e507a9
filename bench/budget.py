"""The CPU time budget on real data: the plan it chose, its estimate next to the actual time, accuracy vs no budget.

Usage: nice -n 10 .venv/bin/python bench/budget.py [--dataset waimai_10k.csv] [--min-chars 30] [--rows 2000]
       [--epochs 3] [--budget-minutes 3] [--no-compare] [--e5-cache DIR]
Trains the embedded model through the product's own path on a stratified sample of long-enough texts, once with the
budget and (unless --no-compare) once without, in the same invocation. Prints the plan in words, estimated vs actual
seconds of training + evaluation, accuracy, macro-F1 and wall time. Shared cores make the actual time noisy: say so.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from bench_data_dir import (
    add_config_override,
    add_e5_cache,
    finish_long_text_bench,
    long_text_sample,
    train_once,
)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dataset", default="waimai_10k.csv")
    ap.add_argument("--min-chars", type=int, default=30)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument("--budget-minutes", type=float, default=3)
    ap.add_argument("--no-compare", action="store_true")
    ap.add_argument("--base-model", default="embedded:multilingual-e5-small")
    add_config_override(ap)
    add_e5_cache(ap)
    args = ap.parse_args()
    from llm_trainer.ml.training.config import TrainingConfig

    settings, factory, dataset_id, n_rows, scratch = long_text_sample(
        args, "bench-budget-"
    )
    rows = []
    for minutes in [args.budget_minutes] + ([] if args.no_compare else [0]):
        config = TrainingConfig(
            **{
                "epochs": args.epochs,
                "time_budget_minutes": minutes,
                "fast_serving": False,
                **args.config,
            }
        )
        m, wall = train_once(settings, factory, dataset_id, args.base_model, config)
        rows.append((minutes, m, wall))
    print(
        f"\n{args.dataset}: {n_rows} rows of >= {args.min_chars} chars, epochs asked "
        f"{args.epochs}, {args.base_model}, cores {os.cpu_count()}"
    )
    print(
        "| budget min | plan | estimated s | actual s | max_len | epochs | acc | macro-F1 "
        "| wall s |\n|---|---|---|---|---|---|---|---|---|"
    )
    for minutes, m, wall in rows:
        plan = m.get("time_budget") or {}
        epochs = plan.get("epochs", args.epochs)
        print(
            f"| {minutes:g} | {plan.get('message', 'off')} | {plan.get('estimated_s', '-')} "
            f"| {plan.get('actual_s', m.get('train_seconds', '-'))} | {m.get('max_length')} "
            f"| {epochs} | {m.get('accuracy', 0):.4f} | {m.get('macro_f1', 0):.4f} "
            f"| {wall:.0f} |"
        )
    return finish_long_text_bench(rows[0][1], scratch)


if __name__ == "__main__":
    sys.exit(main())
