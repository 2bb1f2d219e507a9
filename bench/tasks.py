"""One row per NLP task: train the embedded model through the product's own path on a shared data set, against the
task's classical baseline on the same validation split, then time single-input prediction with fast serving.

Usage: nice -n 10 .venv/bin/python bench/tasks.py [--task multi_label --task pair ...] [--epochs N]
       [--max-train-rows N] [--data-dir DIR] [--e5-cache DIR]
Prints task, rows, wall time, metric, baseline, the gap, prediction p50 and a published reference. Targets (issue 12):
metric >= baseline + 3 pt, each run <= 20 min, p50 <= 20 ms. The machine has 2 shared cores: say when others worked.
To add a task, append a `BenchTask` to TASKS. NER's baseline is the character CRF, its metric entity micro-F1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from bench_data_dir import add_config_override, add_e5_cache, prepare_data_dir

DATASETS = ROOT.parent / "shared" / "datasets"


@dataclass
class BenchTask:
    name: str
    task: str
    metric: str  # key in the version's metrics and in metrics["baseline"]
    reference: str  # published number for context
    make_file: Callable[
        [Path, int | None], Path
    ]  # (scratch dir, max train rows) -> the file to upload
    validation_source: str = "split"
    probe: object = "这车动力还行，就是油耗有点高，内饰做工一般般。"  # ~30 characters


def _copy_csv(rows: list[list[str]], header: list[str], out: Path) -> Path:
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return out


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def multilabel_file(scratch: Path, max_rows: int | None) -> Path:
    header, rows = _read(DATASETS / "multilabel" / "bdci2018_car_aspects.csv")
    return _copy_csv(
        rows[:max_rows] if max_rows else rows,
        header,
        scratch / "bdci2018_car_aspects.csv",
    )


def afqmc_file(scratch: Path, max_rows: int | None) -> Path:
    """AFQMC's own train/dev split as a split column (dev = validation, as published numbers use)."""
    header, train = _read(DATASETS / "pairs" / "afqmc_train.csv")
    _, dev = _read(DATASETS / "pairs" / "afqmc_dev.csv")
    train = train[:max_rows] if max_rows else train
    rows = [[*r, "train"] for r in train] + [[*r, "validation"] for r in dev]
    return _copy_csv(rows, [*header, "split"], scratch / "afqmc.csv")


def cluener_file(scratch: Path, max_rows: int | None) -> Path:
    """CLUENER2020 train (capped) + dev as one JSONL with a split field (dev = validation, as the paper reports)."""
    folder = DATASETS / "ner"
    train = (
        (folder / "cluener2020_train.jsonl").read_text(encoding="utf-8").splitlines()
    )
    dev = (folder / "cluener2020_dev.jsonl").read_text(encoding="utf-8").splitlines()
    train = train[:max_rows] if max_rows else train
    out = scratch / "cluener2020.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for lines, split in ((train, "train"), (dev, "validation")):
            for line in lines:
                f.write(
                    json.dumps({**json.loads(line), "split": split}, ensure_ascii=False)
                    + "\n"
                )
    return out


TASKS = [
    BenchTask(
        "bdci2018_car_aspects",
        "multi_label",
        "micro_f1",
        "n/a (no standard split)",
        multilabel_file,
    ),
    BenchTask(
        "afqmc",
        "pair",
        "accuracy",
        "BERT-base ≈ 73–74% (CLUE)",
        afqmc_file,
        validation_source="dataset",
        probe=("花呗怎么还款", "花呗可以用银行卡还吗"),
    ),
    BenchTask(
        "cluener2020",
        "ner",
        "micro_f1",
        "BERT-base ≈ 79% entity micro-F1 (CLUENER2020 paper)",
        cluener_file,
        validation_source="dataset",
        probe="浙商银行企业信贷部叶老桂博士则从另一个角度对五道门槛进行了解读。",
    ),
]


def _p50_ms(predictor, probe: object, n: int = 60) -> float:
    predictor.predict([probe])
    times = []
    for _ in range(n):
        started = time.perf_counter()
        predictor.predict([probe])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--task",
        action="append",
        help="Task name (multi_label, pair, ner); default: every row.",
    )
    ap.add_argument("--base-model", default="embedded:multilingual-e5-small")
    ap.add_argument(
        "--epochs", type=float, default=None, help="Default: the product's default."
    )
    ap.add_argument(
        "--max-train-rows",
        type=int,
        default=None,
        help="Cap the training rows (quick checks).",
    )
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="Default: a fresh temp dir."
    )
    add_config_override(ap)
    add_e5_cache(ap)
    args = ap.parse_args()
    data_dir = prepare_data_dir(args.data_dir, "bench-tasks-", args.e5_cache)

    from llm_trainer.cli.train import _train_here
    from llm_trainer.core.config import get_settings
    from llm_trainer.core.variants import blend_score, is_offered
    from llm_trainer.db.base import make_engine, make_session_factory, session_scope
    from llm_trainer.db.migrate import upgrade_to_head
    from llm_trainer.db.models import ModelVersion, Run
    from llm_trainer.ml.tasks.registry import get_spec
    from llm_trainer.ml.training.config import TrainingConfig
    from llm_trainer.services import training
    from llm_trainer.services.datasets import create_from_upload, incoming_dir
    from llm_trainer.services.serving import serving_variant, version_dir

    settings = get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    scratch = Path(tempfile.mkdtemp(prefix="bench-task-files-"))
    table = []
    for bench in [t for t in TASKS if not args.task or t.task in args.task]:
        path = bench.make_file(scratch, args.max_train_rows)
        staged = incoming_dir(settings) / f"bench-{time.time_ns()}{path.suffix}"
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, staged)
        config = {"validation_source": bench.validation_source, **args.config}
        if args.epochs:
            config["epochs"] = args.epochs
        with session_scope(factory) as session:
            dataset = create_from_upload(
                session, settings, staged, path.name, task=bench.task
            )
            rows = dataset.row_count
            run_id = training.create_run(
                session, settings, dataset_id=dataset.id, base_model=args.base_model,
                config=TrainingConfig(**config),
            ).id  # fmt: skip
        started = time.monotonic()
        code = _train_here(settings, factory, run_id)
        wall = time.monotonic() - started
        with session_scope(factory) as session:
            run = session.get(Run, run_id)
            version = session.query(ModelVersion).filter_by(run_id=run_id).first()
            metrics = version.metrics if version else {}
            value = metrics.get(bench.metric)
            base = (metrics.get("baseline") or {}).get(bench.metric)
            # the transformer + its classical baseline (TF-IDF; NER: CRF), when offered
            blend = metrics.get("ensemble") or {}
            ens = (
                blend_score(blend, bench.metric) if blend else None
            )  # the weight chosen out of fold
            p50, variant, ens_p50 = None, None, None
            if version:
                variant = serving_variant(version)
                spec, folder = get_spec(version.task), version_dir(settings, version)
                p50 = _p50_ms(
                    spec.load_predictor(folder, version.kind, variant), bench.probe
                )
                if is_offered(metrics):
                    ensemble = spec.load_predictor(folder, version.kind, "ensemble")
                    ens_p50 = _p50_ms(ensemble, bench.probe)
            table.append(
                (bench.task, bench.name, rows, run.status, wall / 60, bench.metric, value, base,
                 None if value is None or base is None else (value - base) * 100,
                 None if ens is None else f"{ens:.4f} (w {blend.get('weight')})",
                 None if ens is None or base is None else (ens - base) * 100, variant, p50, ens_p50,
                 bench.reference)
            )  # fmt: skip
        if code:
            print(f"run {run_id} ended with code {code}", file=sys.stderr)
    print(f"\nbase model {args.base_model}, epochs {args.epochs or 'default'}, train rows cap {args.max_train_rows}, "
          f"config {json.dumps(args.config)}, "
          f"cores {os.cpu_count()}, data {data_dir}")  # fmt: skip
    head = ("task", "data", "rows", "status", "wall_min", "metric", "value", "baseline", "gap_pt", "ensemble",
            "ensemble_gap_pt", "served_by", "p50_ms", "ensemble_p50_ms", "published")  # fmt: skip
    print(" | ".join(head))
    for r in table:
        print(" | ".join(f"{v:.4f}" if isinstance(v, float) and abs(v) < 1 else f"{v:.1f}" if isinstance(v, float)
                         else str(v) for v in r))  # fmt: skip
    shutil.rmtree(scratch, ignore_errors=True)
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
