"""Real training runs through the product's own path (dataset import -> queue -> worker process -> version).

Usage: .venv/bin/python bench/train.py [--dataset waimai_10k|thucnews_titles_10cls ...] [--base-model SRC]
       [--epochs N] [--data-dir DIR] [--e5-cache DIR]
Prints wall time, samples/s, accuracy and macro-F1 against the TF-IDF baseline on the same validation split, and the
truncation share. The machine has 2 shared cores: say so when other jobs ran at the same time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from bench_data_dir import prepare_data_dir

DATASETS = ROOT.parent / "shared" / "datasets"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--dataset", action="append", help="Name under ../shared/datasets (repeatable)."
    )
    ap.add_argument("--base-model", default="embedded:multilingual-e5-small")
    ap.add_argument("--epochs", type=float, default=3)
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="Default: a fresh temp dir."
    )
    ap.add_argument(
        "--e5-cache",
        type=Path,
        default=None,
        help="A cache dir already holding the converted e5 model.",
    )
    args = ap.parse_args()
    data_dir = prepare_data_dir(args.data_dir, "bench-train-", args.e5_cache)

    from llm_trainer.cli.train import _import_file, _train_here
    from llm_trainer.core.config import get_settings
    from llm_trainer.db.base import make_engine, make_session_factory, session_scope
    from llm_trainer.db.migrate import upgrade_to_head
    from llm_trainer.db.models import ModelVersion, Run
    from llm_trainer.ml.training.config import TrainingConfig
    from llm_trainer.services import training

    settings = get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    rows = []
    for name in args.dataset or ["waimai_10k"]:
        with session_scope(factory) as session:
            dataset_id = _import_file(session, settings, DATASETS / f"{name}.csv")
            run = training.create_run(
                session, settings, dataset_id=dataset_id, base_model=args.base_model,
                config=TrainingConfig(epochs=args.epochs),
            )  # fmt: skip
            run_id = run.id
        started = time.monotonic()
        code = _train_here(settings, factory, run_id)
        wall = time.monotonic() - started
        with session_scope(factory) as session:
            run = session.get(Run, run_id)
            version = session.query(ModelVersion).filter_by(run_id=run_id).first()
            m = version.metrics if version else {}
            p = run.progress
            base = m.get("baseline") or {}
            rows.append(
                (name, run.status, wall, p.get("samples_per_s"), m.get("accuracy"), m.get("macro_f1"),
                 base.get("accuracy"), base.get("macro_f1"), m.get("truncation_share"), m.get("max_length"),
                 m.get("precision"), (version.size_bytes / 2**20) if version else None)
            )  # fmt: skip
        if code:
            print(f"run {run_id} ended with code {code}", file=sys.stderr)
    print(
        f"\nbase model: {args.base_model}, epochs {args.epochs}, cores {os.cpu_count()}, data {data_dir}"
    )
    head = ("dataset", "status", "wall_s", "samples/s", "acc", "macroF1", "tfidf_acc", "tfidf_F1", "trunc", "max_len",
            "precision", "size_MB")  # fmt: skip
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(f"{v:.4f}" if isinstance(v, float) and v < 10 else f"{v:.1f}" if isinstance(v, float)
                         else str(v) for v in r))  # fmt: skip
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
