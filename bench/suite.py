"""`make bench`: every benchmark of issue 14 on this machine, one markdown table, a JSON and a chart.

Usage: .venv/bin/python bench/suite.py [--quick] [--only speed|quality|scaling|inference|ingest ...]
       [--e5-cache DIR] [--keep]
Rows: 1 speed (the product's whole CLI run vs a plain HF Trainer recipe), 2 quality (defaults vs the tuned TF-IDF),
3 scaling (training time vs rows and length, latency vs length, RSS), 4 inference (HTTP latency, concurrency,
throughput vs transformers.pipeline; 300-character texts and a 3,000-character document), 5 ingest (100k, 1M rows).
Everything runs through the product's real path on a fresh data dir; nothing is cached between runs (--e5-cache only
saves converting the embedded model, which no row times). Writes bench/results/<date>-<host>.json and .png (a
--quick or --only run gets a suffix and is never shown in README). Then `bench/report.py --readme` puts the table in
README. The cores are shared: run it on a quiet machine; the start and end load averages are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

import psutil
from bench_data_dir import add_e5_cache, open_product, prepare_data_dir
from report import RESULTS, chart, row, summary, table
from suite_training import QUICK, Context, Sizes

ROWS = ("speed", "quality", "scaling", "inference", "ingest")
LIMIT_S = 60 * 60
# Planned seconds per stage on a quiet 2-core machine with bf16 (AVX-512 BF16 / AMX), full sizes (--quick second).
# speed: two recipe runs (~5-8 min each: 2,000 rows padded to 128 in fp32, the test split evaluated) and two product
# runs; quality: three default runs bounded by the product's time budget (15 min each by default) plus the tuned
# TF-IDF fits; scaling: seven short product runs (~1 min each) and the latency series; inference: bench/predict.py's
# measures plus the long texts. An fp32-only (AVX2) machine needs longer: the issue measured the recipe at 440 s.
ESTIMATE_S = {
    "speed": (15 * 60, 150),
    "quality": (25 * 60, 150),
    "scaling": (8 * 60, 200),
    "inference": (5 * 60, 120),
    "ingest": (1 * 60, 20),
}


def machine() -> dict:
    """CPU model, the instruction sets that decide the product's precision, cores, memory, library versions."""
    import torch
    import transformers

    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        info = ""
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    flags_line = re.search(r"^flags\s*:\s*(.+)$", info, re.MULTILINE)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    return {
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "flags": {
            "AVX2": "avx2" in flags,
            "AVX-512": "avx512f" in flags,
            "bf16": "avx512_bf16" in flags or "amx_bf16" in flags,
            "AMX": "amx_tile" in flags,
        },
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "load_start": os.getloadavg()[0],
    }


def run_stage(name: str, ctx: Context, selected: set[str]) -> tuple[list[dict], dict]:
    from suite_training import quality, scaling_training, speed, worker_rss_row

    if name == "speed":
        return speed(ctx), {}
    if name == "quality":
        return quality(ctx), {}
    if name == "scaling":
        return scaling_training(ctx)
    if name == "serving":
        from suite_serving import serving

        rows, series = serving(ctx, "inference" in selected, "scaling" in selected)
        worker = worker_rss_row(ctx) if "scaling" in selected else None
        return rows + ([worker] if worker else []), series
    if name == "ingest":
        return ingest_rows(ctx), {}
    raise ValueError(name)


def ingest_rows(ctx: Context) -> list[dict]:
    from ingest import GOALS_S, RSS_GOAL_MB, measure

    out = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir=ctx.scratch) as tmp:
        for i, rows in enumerate(ctx.sizes.ingest):
            r = measure(rows, Path(tmp))
            goal = GOALS_S.get(rows)
            out.append(
                row(
                    f"5{'abcdef'[i]}",
                    f"Ingest: a {rows:,}-row CSV ({r['file_mb']} MB) uploaded over HTTP to a fresh server, to 201",
                    f"{r['seconds']:.2f} s ({r['rows_per_s']:,} rows/s; server ingest {r['server_s']:.2f} s), "
                    f"RSS +{r['rss_growth_mb']:.0f} MB, {r['stored']:,} rows stored",
                    (f"<= {goal:g} s, " if goal else "")
                    + f"RSS growth <= {RSS_GOAL_MB} MB, every row stored",
                    r["met"],
                    ingest=r,
                )
            )
    return out


def plan(selected: list[str], quick: bool) -> list[tuple[str, float]]:
    """Stages in run order with their estimates; serving holds row 4 and row 3's prediction/server parts."""
    pick = 1 if quick else 0
    stages = [(n, ESTIMATE_S[n][pick]) for n in ("speed", "quality") if n in selected]
    if "scaling" in selected:
        stages.append(("scaling", ESTIMATE_S["scaling"][pick] * 0.7))
    if "inference" in selected or "scaling" in selected:
        serving = ESTIMATE_S["inference"][pick] if "inference" in selected else 0
        serving += ESTIMATE_S["scaling"][pick] * 0.3 if "scaling" in selected else 0
        stages.append(("serving", serving))
    if "ingest" in selected:
        stages.append(("ingest", ESTIMATE_S["ingest"][pick]))
    return stages


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="Tiny sizes (a few minutes): checks the harness only.",
    )
    ap.add_argument("--only", nargs="+", choices=ROWS, help="Run only these rows.")
    ap.add_argument(
        "--keep",
        action="store_true",
        help="Keep the data dir and scratch files (logs) afterwards.",
    )
    ap.add_argument(
        "--results", type=Path, default=RESULTS, help="Where the JSON and PNG go."
    )
    add_e5_cache(ap)
    args = ap.parse_args()
    selected = list(args.only or ROWS)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    data_dir = prepare_data_dir(None, "bench-suite-", args.e5_cache)
    scratch = Path(tempfile.mkdtemp(prefix="bench-suite-files-"))
    ctx_env = dict(os.environ)
    info = machine()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # this process only builds the inference version: its load report is noise
    hf_logging.disable_progress_bar()
    settings, factory = open_product()
    from llm_trainer.ml.base_models.embedded import ensure_embedded

    e5_dir = ensure_embedded(
        settings.cache_dir
    )  # converted before any timing: no row pays for it
    ctx = Context(
        data_dir,
        scratch,
        QUICK if args.quick else Sizes(),
        settings,
        factory,
        e5_dir,
        base_env=ctx_env,
    )
    stages = plan(selected, args.quick)
    total_estimate = sum(s for _, s in stages)
    print(f"make bench{' --quick' if args.quick else ''}: {', '.join(selected)}; planned "
          f"{total_estimate / 60:.0f} min ({', '.join(f'{n} {s / 60:.0f}' for n, s in stages)}); data {data_dir}, "
          f"logs {scratch}", flush=True)  # fmt: skip
    rows, series, timing = [], {}, {}
    for i, (name, estimate) in enumerate(stages, 1):
        print(f"[{i}/{len(stages)}] {name} (about {estimate / 60:.0f} min)", flush=True)
        t0 = time.monotonic()
        try:
            stage_rows, stage_series = run_stage(name, ctx, set(selected))
        except Exception as exc:  # noqa: BLE001 - one failed stage must not cost the others' numbers
            traceback.print_exc()
            stage_rows, stage_series = [row(f"{name}!", f"stage '{name}' failed", f"{type(exc).__name__}: {exc}",
                                            "runs to the end", False)], {}  # fmt: skip
        rows += stage_rows
        series.update(stage_series)
        timing[name] = {
            "estimate_s": round(estimate),
            "actual_s": round(time.monotonic() - t0, 1),
        }
        print(f"  {name}: {timing[name]['actual_s'] / 60:.1f} min (planned {estimate / 60:.0f}); "
              f"{(time.monotonic() - started) / 60:.1f} min so far", flush=True)  # fmt: skip
    total = time.monotonic() - started
    complete = set(selected) == set(ROWS) and not args.quick
    rows.sort(key=lambda r: r["id"])
    rows.append(
        row(
            "Σ",
            "The whole `make bench` (setup included)"
            + (" — --quick sizes" if args.quick else ""),
            f"{total / 60:.1f} min (planned {total_estimate / 60:.0f})",
            "< 60 min (all rows, full sizes)",
            (total < LIMIT_S) if complete else None,
        )
    )
    info["load_end"] = os.getloadavg()[0]
    data = {
        "date": started_at.strftime("%Y-%m-%d"),
        "started": started_at.isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "quick": args.quick,
        "only": selected,
        "complete": complete,
        "machine": info,
        "product_defaults": {
            "cpu_time_budget_minutes": settings.cpu_time_budget_minutes
        },
        "sizes": ctx.sizes.__dict__,
        "timing": {"total_s": round(total, 1), "stages": timing},
        "rows": rows,
        "series": series,
        "runs": ctx.runs,
    }
    suffix = (
        "-quick" if args.quick else "" if complete else "-only-" + "+".join(selected)
    )
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{data['date']}-{data['host']}{suffix}.json"
    out.write_text(
        json.dumps(data, indent=1, ensure_ascii=False, default=str), encoding="utf-8"
    )
    png = chart(data, out.with_suffix(".png"))
    print("\n" + summary(data) + "\n\n" + table(data) + f"\n\nWrote {out} and {png}.")
    if complete:
        print("Put it into README: .venv/bin/python bench/report.py --readme")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if all(r["met"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
