"""Rows 1-3 of `make bench` that train: speed vs the common recipe, quality vs the tuned TF-IDF, training scaling.

Every product run is the whole CLI (`llm-trainer train --file F --wait` in its own process: import -> queue ->
worker process -> version), timed from start to exit; its numbers are read back from the product's database.
The common recipe is bench/common_recipe.py in its own process, on the same file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from report import row
from suite_data import csldcp_file, length_file, sample_file, title_rows_file

ROOT = Path(__file__).resolve().parents[1]
MB = 2**20


@dataclass
class Sizes:
    """How much each row measures: the full bench, or `--quick` (tiny, checks the harness only)."""

    speed_waimai: tuple[int, int] = (2500, 500)  # rows, of which held out
    csldcp: tuple[int | None, int | None] = (
        None,
        None,
    )  # most frequent labels kept, rows per label and split
    quality_rows: int | None = None  # waimai / THUCNews sample (None: the whole file)
    scaling_rows: tuple[int, ...] = (1000, 4000, 16000)
    rows_measured: int = 4000  # rows-scaling runs train on at most this many samples (a share of the epoch)
    scaling_lengths: tuple[int, ...] = (32, 64, 128, 256)
    length_rows: int = 1000  # length-scaling runs: training rows (per-epoch times are for this many rows)
    length_measured: dict[int, int] = field(
        default_factory=lambda: {32: 1000, 64: 1000, 128: 640, 256: 320}
    )
    held_out: int = 200  # validation rows of the scaling runs
    requests: int = 200  # inference: sequential requests per variant
    batch_texts: int = 2000
    clients_each: int = 40
    long_requests: int = 100  # 300-character texts
    long_batch: int = 500
    doc_requests: int = 20  # the 3,000-character document
    head_fit: int = 2000
    serve_rows: int | None = (
        None  # rows of waimai the inference version is built from (None: all)
    )
    ingest: tuple[int, ...] = (100_000, 1_000_000)


QUICK = Sizes(
    speed_waimai=(
        96,
        32,
    ),  # the recipe's step updates all 96M embedding weights: few steps
    csldcp=(4, 12),
    quality_rows=160,
    scaling_rows=(64, 128, 256),
    rows_measured=128,
    scaling_lengths=(32, 64, 128, 256),
    length_rows=64,
    length_measured={32: 64, 64: 64, 128: 64, 256: 32},
    held_out=32,
    requests=15,
    batch_texts=96,
    clients_each=3,
    long_requests=8,
    long_batch=32,
    doc_requests=3,
    head_fit=200,
    serve_rows=600,
    ingest=(10_000, 50_000),
)


@dataclass
class Context:
    """One bench invocation: a fresh product data dir, scratch files, the product opened on it."""

    data_dir: Path
    scratch: Path
    sizes: Sizes
    settings: Any
    factory: Any
    e5_dir: Path
    runs: list[dict] = field(
        default_factory=list
    )  # every training run's facts, for the JSON
    # the environment as the bench started: bench/predict.py, imported later, sets OpenMP variables for itself
    base_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.base_env,
            "LLM_TRAINER_DATA_DIR": str(self.data_dir),
            "HF_HUB_OFFLINE": "1",
        }


class TreeRss(threading.Thread):
    """Peak resident memory of a process and, apart, of its training worker descendants, sampled every 50 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peaks = {"main": 0, "worker": 0}
        self._stop_event = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in procs:
                try:
                    role = (
                        "worker"
                        if "llm_trainer.worker" in " ".join(p.cmdline())
                        else "main"
                    )
                    self.peaks[role] = max(self.peaks[role], p.memory_info().rss)
                except psutil.Error:
                    continue
            time.sleep(0.05)

    def stop(self) -> dict[str, float]:
        self._stop_event.set()
        self.join()
        return {k: round(v / MB, 1) for k, v in self.peaks.items()}


def timed_process(cmd: list[str], log: Path, env: dict) -> tuple[int, float, dict]:
    """(exit code, wall seconds, peak RSS MB by role) of a command run to its end, output to `log`."""
    print(f"  {log.stem} ...", end="", flush=True)
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT / "backend", env=env, stdout=out, stderr=subprocess.STDOUT
        )
        rss = TreeRss(proc.pid)
        code = proc.wait()
    wall = time.monotonic() - started
    print(
        f" {wall:.0f} s{'' if code == 0 else f' (exit {code}, see {log})'}", flush=True
    )
    return code, wall, rss.stop()


# The fast ONNX copy is a serving step queued after the version is saved (the recipe makes no serving artefact);
# 4a-4f measure it. Building it here only lengthened the suite.
NO_SERVING_COPY = ["--no-fast-serving"]
SERVING_COPY_NOTE = (
    "the fast ONNX serving copy not built here (--no-fast-serving; rows 4 measure it)"
)


def cli_train(ctx: Context, file: Path, flags: list[str], label: str) -> dict:
    """The product's whole CLI run on `file`; its version's metrics and run progress, wall time and peak RSS."""
    from llm_trainer.db.base import session_scope
    from llm_trainer.db.models import ModelVersion, Run

    log = ctx.scratch / f"{label}.log"
    cmd = [sys.executable, "-m", "llm_trainer.cli", "train", "--file", str(file), "--wait",
           "--data-dir", str(ctx.data_dir), *flags]  # fmt: skip
    code, wall, rss = timed_process(cmd, log, ctx.env)
    queued = re.search(r"queued run (\d+)", log.read_text(encoding="utf-8"))
    if not queued:
        raise RuntimeError(f"{label}: the CLI queued no run (exit {code}); see {log}")
    with session_scope(ctx.factory) as session:
        run = session.get(Run, int(queued.group(1)))
        progress = dict(run.progress or {})
        # The run's own version; progress can miss its id (seen once under heavy load: the run ended 'succeeded'
        # with its progress still at 'saving'), so the version is looked up by run as well.
        version = session.get(ModelVersion, progress.get("model_version_id") or -1) or (
            session.query(ModelVersion)
            .filter(ModelVersion.run_id == run.id, ModelVersion.kind != "tfidf")
            .order_by(ModelVersion.id)
            .first()
        )
        facts = {
            "label": label,
            "file": file.name,
            "flags": flags,
            "exit_code": code,
            "status": run.status,
            "error": run.error_message,
            "wall_s": round(wall, 1),
            "peak_rss_mb": rss,
            "samples_per_s": progress.get("samples_per_s"),
            "run_id": run.id,
            "version_id": version.id if version else None,
            "dataset_id": run.dataset_id,
            "config": dict(version.config) if version else {},
            "metrics": dict(version.metrics) if version else {},
        }
    ctx.runs.append(facts)
    if not facts["version_id"]:
        raise RuntimeError(
            f"{label}: run {facts['run_id']} ended {facts['status']}: {facts['error']} (log {log})"
        )
    return facts


def recipe(ctx: Context, file: Path, label: str, epochs: float) -> dict:
    """bench/common_recipe.py on `file` with the product's default batch size, learning rate and schedule."""
    from llm_trainer.ml.training.config import TrainingConfig

    cfg = TrainingConfig()
    out = ctx.scratch / f"{label}-recipe.json"
    cmd = [sys.executable, str(ROOT / "bench" / "common_recipe.py"), "--model-dir", str(ctx.e5_dir),
           "--data", str(file), "--out", str(out), "--epochs", f"{epochs:g}", "--batch-size", str(cfg.batch_size),
           "--learning-rate", str(cfg.learning_rate), "--warmup-ratio", str(cfg.warmup_ratio),
           "--weight-decay", str(cfg.weight_decay), "--seed", str(cfg.seed)]  # fmt: skip
    log = ctx.scratch / f"{label}-recipe.log"
    code, wall, rss = timed_process(cmd, log, ctx.env)
    if code or not out.is_file():
        raise RuntimeError(
            f"{label}: the common recipe failed (exit {code}); see {log}"
        )
    return {
        **json.loads(out.read_text(encoding="utf-8")),
        "wall_s": round(wall, 1),
        "peak_rss_mb": rss["main"],
    }


def speed(ctx: Context) -> list[dict]:
    """Row 1: the product's whole CLI run vs the common recipe, same file, split, epochs (1), batch and LR."""
    n, held = ctx.sizes.speed_waimai
    labels, per_label = ctx.sizes.csldcp
    cases = [
        ("1a", f"waimai_10k, {n:,} rows ({n - held:,} train / {held:,} validation)",
         sample_file("waimai_10k.csv", n, ctx.scratch / "speed-waimai.csv", held), 6.0),
        ("1b", "longdoc/csldcp, train on train, report on test" + (f" ({labels} labels)" if labels else ""),
         csldcp_file(ctx.scratch / "speed-csldcp.csv", labels, per_label), 3.0),
    ]  # fmt: skip
    return [
        guarded(row_id, what, speed_case, ctx, row_id, what, file, target)
        for row_id, what, file, target in cases
    ]


def speed_case(ctx: Context, row_id: str, what: str, file: Path, target: float) -> dict:
    base = recipe(ctx, file, f"speed-{row_id}", epochs=1)
    ours = cli_train(
        ctx,
        file,
        ["--epochs", "1", "--validation-source", "dataset", *NO_SERVING_COPY],
        f"speed-{row_id}",
    )
    m = ours["metrics"]
    ratio = base["wall_s"] / ours["wall_s"]
    acc, base_acc = m.get("accuracy", 0.0), base["accuracy"]
    return row(
        row_id,
        f"Training speed: {what}, 1 epoch. Product: whole CLI run (defaults: {m.get('precision')}, max length "
        f"{m.get('max_length')}, time budget on; {SERVING_COPY_NOTE}). Common recipe: HF Trainer, padding to 128, "
        "fp32, all weights trainable",
        f"product {ours['wall_s']:.0f} s ({ours['samples_per_s'] or 0:.1f} samples/s, acc {acc:.3f}) vs "
        f"recipe {base['wall_s']:.0f} s ({base['samples_per_s']:.1f} samples/s, acc {base_acc:.3f}): "
        f"**{ratio:.1f}x**",
        f">= {target:g}x, acc >= recipe's",
        ratio >= target and acc >= base_acc,
        product=ours,
        recipe=base,
        ratio=round(ratio, 2),
    )


def guarded(row_id: str, what: str, fn, *args) -> dict:
    """`fn(*args)`'s row, or a missed row saying what failed: one broken case must not cost the others."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - reported in the table, traceback on stderr
        traceback.print_exc()
        return row(
            row_id,
            what,
            f"FAILED: {type(exc).__name__}: {exc}",
            "runs to the end",
            False,
        )


# C values tried on the training split: 1 and 100 were never chosen on any of the three sets.
TFIDF_C_PATH = (3.0, 10.0, 30.0)
TFIDF_FEATURES = 100_000


def strong_pipeline():
    from llm_trainer.ml.baseline import build_pipeline

    return build_pipeline().set_params(tfidf__max_features=TFIDF_FEATURES)


def tuned_tfidf(ctx: Context, run: dict) -> dict:
    """The product's TF-IDF pipeline with C chosen on a stratified 20% of the training split (never the
    reported split), refitted on the whole training split, scored on the run's own validation/test split."""
    from llm_trainer.db.base import session_scope
    from llm_trainer.db.repositories.datasets import training_rows
    from llm_trainer.ml.baseline import evaluate_baseline
    from llm_trainer.ml.training.data import split_rows
    from sklearn.model_selection import train_test_split

    started = time.monotonic()
    with session_scope(ctx.factory) as session:
        rows = training_rows(session, run["dataset_id"])
    cfg = run["config"]
    split = split_rows(
        rows, source=cfg.get("validation_source", "split"),
        ratio=float(cfg.get("validation_ratio", 0.2)), seed=int(cfg.get("seed", 42)),
    )  # fmt: skip
    fit_x, dev_x, fit_y, dev_y = train_test_split(
        split.train_texts, split.train_labels, test_size=0.2,
        stratify=split.train_labels, random_state=0,
    )  # fmt: skip
    # The C path as a practitioner runs it: the vectoriser fitted once, each C warm-started from the previous one.
    # Twice the product's n-grams: the comparator keeps every fraction of a point (about 0.1 here) they buy.
    tfidf, clf = strong_pipeline().named_steps.values()
    fit_m, dev_m = tfidf.fit_transform(fit_x), tfidf.transform(dev_x)
    clf.set_params(warm_start=True)
    scores = {}
    for c in TFIDF_C_PATH:
        predicted = clf.set_params(C=c).fit(fit_m, fit_y).predict(dev_m)
        scores[c] = float((predicted == np.asarray(dev_y)).mean())
    best = max(scores, key=scores.get)
    pipe = strong_pipeline().set_params(clf__C=best)
    pipe.fit(split.train_texts, split.train_labels)
    result = evaluate_baseline(pipe, split.val_texts, split.val_labels)
    return {**result, "C": best, "seconds": round(time.monotonic() - started, 1)}


def quality(ctx: Context) -> list[dict]:
    """Row 2: the defaults vs the tuned TF-IDF on the same split, each run inside the time budget."""
    n = ctx.sizes.quality_rows
    labels, per_label = ctx.sizes.csldcp
    sample = "" if n is None else f" (sample of {n} rows)"
    cases = [
        ("2a", f"waimai_10k{sample}, the product's split",
         sample_file("waimai_10k.csv", n, ctx.scratch / "quality-waimai_10k.csv"), []),
        ("2b", f"thucnews_titles_10cls{sample}, the product's split",
         sample_file("thucnews_titles_10cls.csv", n, ctx.scratch / "quality-thucnews.csv"), []),
        ("2c", "longdoc/csldcp, train on train, report on test" + (f" ({labels} labels)" if labels else ""),
         csldcp_file(ctx.scratch / "quality-csldcp.csv", labels, per_label), ["--validation-source", "dataset"]),
    ]  # fmt: skip
    return [
        guarded(row_id, what, quality_case, ctx, row_id, what, file, flags)
        for row_id, what, file, flags in cases
    ]


def quality_case(
    ctx: Context, row_id: str, what: str, file: Path, flags: list[str]
) -> dict:
    from llm_trainer.core.variants import blend_score
    from llm_trainer.ml.baseline import BASELINE_FEATURES

    run = cli_train(ctx, file, [*flags, *NO_SERVING_COPY], f"quality-{row_id}")
    m = run["metrics"]
    tuned = tuned_tfidf(ctx, run)
    builtin = m.get("baseline") or {}
    strongest = max(tuned["accuracy"], builtin.get("accuracy", 0.0))
    gap = (m.get("accuracy", 0.0) - strongest) * 100
    gap_f1 = (
        m.get("macro_f1", 0.0) - max(tuned["macro_f1"], builtin.get("macro_f1", 0.0))
    ) * 100
    plan = m.get("time_budget") or {}
    within = plan.get("actual_s") is not None and plan["actual_s"] <= plan["budget_s"]
    budget_txt = (
        f"budget {plan['budget_s'] / 60:.0f} min: {plan.get('message', '')}; training+evaluation "
        f"{plan.get('actual_s', 0):.0f} s (estimated {plan.get('estimated_s', 0):.0f} s)"
        if plan
        else "no time budget applied"
    )
    ensemble = m.get("ensemble") or {}
    ens_acc = (
        blend_score(ensemble, "accuracy") if ensemble else None
    )  # its weight chosen out of fold
    ens_txt = (
        f"; ensemble with TF-IDF (w {ensemble.get('weight')}, cross-fitted) acc {ens_acc:.3f}"
        f"{' (offered)' if ensemble.get('offered') else ''}"
        if isinstance(ens_acc, (int, float))
        else ""
    )
    return row(
        row_id,
        f"Quality: {what}, product defaults ({m.get('precision')}, max length {m.get('max_length')}; "
        f"{SERVING_COPY_NOTE}) vs "
        f"TF-IDF char 1-3-gram ({TFIDF_FEATURES // 1000}k n-grams) + logistic regression, C tuned on the "
        "training split",
        f"acc **{m.get('accuracy', 0):.3f}** / macro-F1 {m.get('macro_f1', 0):.3f} vs TF-IDF "
        f"{tuned['accuracy']:.3f} / {tuned['macro_f1']:.3f} (C={tuned['C']:g}; built-in, C=10 on "
        f"{BASELINE_FEATURES // 1000}k n-grams: "
        f"{builtin.get('accuracy', 0):.3f}): **{gap:+.1f} pt** acc, {gap_f1:+.1f} pt F1{ens_txt}; "
        f"wall {run['wall_s'] / 60:.1f} min; {budget_txt}",
        ">= +2 pt acc over the stronger TF-IDF, inside the time budget",
        gap >= 2.0 and within,
        product=run,
        tfidf_tuned=tuned,
        gap_pt=round(gap, 2),
        gap_f1_pt=round(gap_f1, 2),
        within_budget=within,
    )


SCALING_FLAGS = [
    "--validation-source",
    "dataset",
    "--time-budget-minutes",
    "0",
    "--no-fast-serving",
]


def scaling_training(ctx: Context) -> tuple[list[dict], dict]:
    """Row 3 (training part): seconds per epoch against rows and against padded text length."""
    series: dict[str, list] = {"train_rows": [], "train_length": []}
    rows = [
        guarded("3a", "Scaling, rows", rows_scaling, ctx, series["train_rows"]),
        guarded(
            "3b", "Scaling, text length", length_scaling, ctx, series["train_length"]
        ),
    ]
    return rows, series


def rows_scaling(ctx: Context, points: list[dict]) -> dict:
    s = ctx.sizes
    for n in s.scaling_rows:
        file = title_rows_file(ctx.scratch / f"rows-{n}.csv", n, s.held_out)
        epochs = min(1.0, s.rows_measured / n)
        run = cli_train(
            ctx,
            file,
            [*SCALING_FLAGS, "--epochs", f"{epochs:.4g}"],
            f"scaling-rows-{n}",
        )
        points.append(_epoch_point(run, n, epochs))
    return row(
        "3a",
        f"Scaling, rows: THUCNews titles, product CLI run (auto max length {points[0]['max_length']}, "
        f"{points[0]['precision']}, no time budget), seconds per epoch = rows / measured samples/s; runs above "
        f"{s.rows_measured:,} rows train {s.rows_measured:,} samples (a share of an epoch) and are extrapolated",
        "; ".join(_rows_point_text(p) for p in points),
        "report (linear in rows)",
        None,
        points=points,
    )


def length_scaling(ctx: Context, points: list[dict]) -> dict:
    s = ctx.sizes
    file = length_file(
        ctx.scratch / "lengths.csv",
        s.length_rows,
        s.held_out,
        max(s.scaling_lengths) * 3,
    )
    for length in s.scaling_lengths:
        epochs = min(1.0, s.length_measured[length] / s.length_rows)
        flags = [
            *SCALING_FLAGS,
            "--epochs",
            f"{epochs:.4g}",
            "--max-length",
            str(length),
        ]
        run = cli_train(ctx, file, flags, f"scaling-length-{length}")
        points.append(_epoch_point(run, s.length_rows, epochs, tokens=length))
    return row(
        "3b",
        f"Scaling, text length: {s.length_rows:,} rows of long CSLDCP texts cut at max length L (every step "
        f"padded to L), product CLI run ({points[0]['precision']}, no time budget); where a whole epoch would "
        "cost minutes a part is measured and extrapolated",
        "; ".join(
            f"L={p['tokens']}: {p['epoch_s']:.0f} s/epoch ({p['samples_per_s']:.1f} samples/s, "
            f"measured on {p['share']:.0%})"
            for p in points
        ),
        "report",
        None,
        points=points,
    )


def _rows_point_text(p: dict) -> str:
    measured = "" if p["share"] >= 1 else f" (measured on {p['share']:.0%})"
    return f"{p['rows']:,} rows: {p['epoch_s']:.0f} s/epoch{measured}, whole run {p['wall_s']:.0f} s"


def _epoch_point(run: dict, rows: int, share: float, **key: int) -> dict:
    sps = run["samples_per_s"] or 0.0
    return {
        **key,
        "rows": rows,
        "share": round(share, 4),
        "samples_per_s": sps,
        "epoch_s": round(rows / sps, 1) if sps else None,
        "wall_s": run["wall_s"],
        "train_seconds": run["metrics"].get("train_seconds"),
        "max_length": run["metrics"].get("max_length"),
        "precision": run["metrics"].get("precision"),
        "worker_rss_mb": run["peak_rss_mb"]["worker"],
    }


def worker_rss_row(ctx: Context) -> dict | None:
    """Row 3: the highest worker RSS of the training runs of this invocation, and which run it was."""
    if not ctx.runs:
        return None
    top = max(ctx.runs, key=lambda r: r["peak_rss_mb"]["worker"])
    return row(
        "3e",
        "Peak RSS of a training worker process (the highest over this bench's product runs)",
        f"{top['peak_rss_mb']['worker']:.0f} MB ({top['label']}: {top['file']}, max length "
        f"{top['metrics'].get('max_length')}); the CLI process beside it {top['peak_rss_mb']['main']:.0f} MB",
        "report",
        None,
        runs={r["label"]: r["peak_rss_mb"] for r in ctx.runs},
    )
