"""Serving benchmark through real HTTP (uvicorn): latency, concurrency, throughput, ONNX/int8, vs transformers.pipeline.

Usage: .venv/bin/python bench/predict.py [--e5-cache DIR] [--data-dir DIR --model-id N] [--requests N]

Without --model-id it builds a version of the embedded multilingual-e5-small (vocabulary trimmed to the data, as
training does; its linear head fitted on frozen mean-pooled embeddings of waimai_10k's training split, so accuracy is
meaningful while latency is that of any trained version). If the embedded model cannot be had, a BERT of the same
shape (12 layers, hidden 384) with random weights is used instead, and the table says so.
The version's int8/ONNX variants are built through the API (POST /api/models/{id}/export), which records the accuracy
delta on the validation split. The machine has 2 shared cores: numbers taken while other jobs run are pessimistic.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))
from llm_trainer.ml.inference.runtime import (
    SHORT_SPIN,  # after the path above; imports no torch
)

# The server starts torch with these OpenMP settings (ml/inference/runtime.py); the in-process pipeline gets the same,
# so the side-by-side compares serving paths, not OpenMP wait policies (the pipeline is slower with the defaults).
for _var, _value in SHORT_SPIN.items():
    os.environ.setdefault(_var, _value)

from bench_data_dir import prepare_data_dir

DATASET = ROOT.parent / "shared" / "datasets" / "waimai_10k.csv"
CONFIG = {"validation_source": "split", "validation_ratio": 0.2, "seed": 42}
MAX_LENGTH = 128
HEAD_FIT_TEXTS = 2000
BATCH_TEXTS = 2000
CLIENTS = 8

TARGETS = {
    "single p50 fp32": ("<=", 20.0),
    "single p95 fp32": ("<=", 40.0),
    "single p50 onnx": ("<=", 10.0),
    "single p95 onnx": ("<=", 40.0),
    "8 clients p95 onnx": ("<=", 100.0),
    "batch texts/s onnx": (">=", 150.0),
    "single p50 onnx_int8": ("<=", 10.0),
    "8 clients p95 fp32": ("<=", 100.0),
    "8 clients p95 onnx_int8": ("<=", 100.0),
    "batch texts/s fp32": (">=", 150.0),
    "batch texts/s onnx_int8": (">=", 300.0),
}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--e5-cache",
        type=Path,
        default=None,
        help="A cache dir already holding the converted e5.",
    )
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="Default: a fresh temp dir."
    )
    ap.add_argument(
        "--model-id",
        type=int,
        default=None,
        help="Benchmark this existing version of --data-dir.",
    )
    ap.add_argument(
        "--requests",
        type=int,
        default=200,
        help="Sequential single-text requests per variant.",
    )
    ap.add_argument("--port", type=int, default=8765)
    args = ap.parse_args()
    data_dir = prepare_data_dir(args.data_dir, "bench-predict-", args.e5_cache)

    url = f"http://127.0.0.1:{args.port}"
    server = start_server(args.port, os.environ)
    try:
        with httpx.Client(base_url=url, timeout=600) as http:
            if args.model_id:
                version_id, model_note = args.model_id, "existing version"
            else:
                dataset_id = upload_dataset(http)
                version_id, model_note = build_version(data_dir, dataset_id)
            build_variants(http, version_id)
            detail = http.get(f"/api/models/{version_id}").json()
        load_before = os.getloadavg()[0]
        results, pipe = measure(
            url, version_id, args.requests, make_pipeline(data_dir, version_id)
        )
        print(f"load average (1 min) before measuring: {load_before:.1f}")
    finally:
        server.terminate()
        server.wait(30)
    report(results, pipe, detail, model_note)
    return 0


def start_server(port: int, env) -> subprocess.Popen:
    """`llm-trainer serve` on the data dir of `env`, returned once it answers /api/health."""
    server = subprocess.Popen(
        [sys.executable, "-m", "llm_trainer.cli", "serve", "--port", str(port)],
        cwd=ROOT / "backend",
        env={**env, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}")
    except SystemExit:
        server.kill()
        raise
    return server


def wait_for(url: str) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("server did not start")


def upload_dataset(http: httpx.Client, path: Path = DATASET) -> int:
    with path.open("rb") as f:
        r = http.post(
            "/api/datasets",
            files={"file": (path.name, f, "text/csv")},
            data={"name": path.stem},
        )
    r.raise_for_status()
    return r.json()["id"]


def settings_and_factory():
    from llm_trainer.core.config import get_settings
    from llm_trainer.db.base import make_engine, make_session_factory

    settings = get_settings()
    return settings, make_session_factory(make_engine(settings.database))


def build_version(
    data_dir: Path, dataset_id: int, head_fit: int = HEAD_FIT_TEXTS
) -> tuple[int, str]:
    """Save a version folder + row the way training does, with a head fitted on frozen embeddings."""
    import torch
    from llm_trainer.db.base import session_scope
    from llm_trainer.db.models import ModelVersion
    from llm_trainer.db.repositories.datasets import training_rows
    from llm_trainer.ml.training.data import split_rows

    settings, factory = settings_and_factory()
    with session_scope(factory) as session:
        rows = training_rows(session, dataset_id)
    split = split_rows(
        rows, source="split", ratio=CONFIG["validation_ratio"], seed=CONFIG["seed"]
    )
    rng = random.Random(0)
    fit = rng.sample(
        range(len(split.train_texts)), min(head_fit, len(split.train_texts))
    )
    fit_texts = [split.train_texts[i] for i in fit]
    fit_labels = [split.train_labels[i] for i in fit]
    from llm_trainer.core.errors import AppError
    from llm_trainer.ml.modeling import load_base_for_training

    try:
        tokenizer, model = load_base_for_training(
            "embedded:multilingual-e5-small",
            split.labels,
            settings.cache_dir,
            train_texts=split.train_texts,
        )
        note = "embedded multilingual-e5-small (vocab trimmed), head fitted on frozen embeddings"
        fit_head(tokenizer, model, fit_texts, fit_labels, split.labels)
    except (
        AppError,
        OSError,
    ) as exc:  # the embedded model could not be had: same shape, random weights
        print(
            f"embedded model unavailable ({exc}); using a random BERT of the same shape",
            file=sys.stderr,
        )
        tokenizer, model = random_bert(split.train_texts, split.labels)
        note = "RANDOM-weight BERT, 12 layers, hidden 384 (embedded model unavailable): accuracy meaningless"
    model.eval()
    with session_scope(factory) as session:
        version = ModelVersion(
            name="bench e5-small", kind="transformer", base_model="embedded:multilingual-e5-small", path="",
            labels=split.labels, dataset_id=dataset_id, config=CONFIG, status="succeeded",
        )  # fmt: skip
        session.add(version)
        session.flush()
        folder = settings.models_dir / str(version.id)
        with torch.no_grad():
            model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        manifest = {"kind": "transformer", "labels": split.labels, "base_model": version.base_model,
                    "max_length": MAX_LENGTH, "metrics": {}, "training_config": CONFIG, "lineage": {}}  # fmt: skip
        (folder / "llm_trainer.json").write_text(
            json.dumps(manifest, ensure_ascii=False), encoding="utf-8"
        )
        version.path = str(folder)
        version.size_bytes = sum(
            f.stat().st_size for f in folder.rglob("*") if f.is_file()
        )
        return version.id, note


def fit_head(tokenizer, model, texts, labels, label_names) -> None:
    """Logistic regression on masked-mean token states, copied into the linear classifier."""
    import torch
    from sklearn.linear_model import LogisticRegression

    feats = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            enc = tokenizer(texts[start : start + 64], truncation=True, max_length=MAX_LENGTH, padding=True,
                            return_tensors="pt")  # fmt: skip
            hidden = model.bert(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            feats.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    y = [label_names.index(lbl) for lbl in labels]
    clf = LogisticRegression(C=10.0, max_iter=3000).fit(np.concatenate(feats), y)
    coef, bias = clf.coef_, clf.intercept_
    if len(label_names) == 2:  # sklearn's binary form: one row for class 1
        coef, bias = (
            np.vstack([-coef / 2, coef / 2]),
            np.array([-bias[0] / 2, bias[0] / 2]),
        )
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(coef, dtype=torch.float32))
        model.classifier.bias.copy_(torch.tensor(bias, dtype=torch.float32))


def random_bert(texts, labels):
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
    )

    chars = sorted({c for t in texts for c in t if not c.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    vocab_file = Path(tempfile.mkdtemp()) / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(vocab_file))
    config = BertConfig(vocab_size=len(vocab), hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=1536, num_labels=len(labels), id2label=dict(enumerate(labels)),
                        label2id={lbl: i for i, lbl in enumerate(labels)})  # fmt: skip
    return tokenizer, BertForSequenceClassification(config)


def build_variants(http: httpx.Client, version_id: int) -> None:
    if (
        http.get(f"/api/models/{version_id}").json()["variants"]["onnx_int8"]["status"]
        == "ready"
    ):
        return  # an existing version exported before: measure it as it is
    r = http.post(f"/api/models/{version_id}/export", json={"variant": "onnx_int8"})
    r.raise_for_status()
    deadline = time.time() + 900
    while time.time() < deadline:
        variants = http.get(f"/api/models/{version_id}").json()["variants"]
        if variants["onnx_int8"]["status"] != "building":
            if variants["onnx_int8"]["status"] != "ready":
                raise SystemExit(f"export failed: {variants['onnx_int8']}")
            return
        time.sleep(2)
    raise SystemExit("export did not finish in 15 minutes")


def validation_texts(version_id: int) -> tuple[list[str], list[str]]:
    from llm_trainer.db.base import session_scope
    from llm_trainer.db.models import ModelVersion
    from llm_trainer.services.models import validation_sample

    _, factory = settings_and_factory()
    with session_scope(factory) as session:
        texts, labels = validation_sample(
            session, session.get(ModelVersion, version_id)
        )
    return texts, labels or []


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def measure(
    url: str,
    version_id: int,
    n_requests: int,
    pipe,
    single: list[str] | None = None,
    batch: list[str] | None = None,
    variants: tuple[str, ...] = ("fp32", "onnx", "onnx_int8"),
    clients_each: int = 40,
) -> tuple[dict[str, float], dict[str, float]]:
    """Our HTTP numbers per variant; the pipeline's (in-process) taken interleaved with the fp32 ones (same background
    load). Default texts: ~30-character validation reviews one at a time, the first BATCH_TEXTS in batches."""
    if single is None or batch is None:
        texts, _ = validation_texts(version_id)
        single = single or [t for t in texts if 25 <= len(t) <= 35] or texts
        batch = batch or texts[:BATCH_TEXTS]
    out: dict[str, float] = {}
    pipe_lat: list[float] = []
    pipe_batch_s = 0.0
    with httpx.Client(base_url=url, timeout=600) as http:
        for variant in variants:
            name = "pytorch" if variant == "fp32" else variant
            body = {"model_id": version_id, "variant": name}
            for t in single[:20]:  # warm-up: loads the variant, fills allocator caches
                http.post("/predict", json={**body, "text": t}).raise_for_status()
            lat = []
            for i in range(n_requests):
                text = single[i % len(single)]
                t0 = time.perf_counter()
                r = http.post("/predict", json={**body, "text": text})
                lat.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
                out[f"windows {variant}"] = max(
                    out.get(f"windows {variant}", 0), r.json().get("windows") or 1
                )
                if variant == "fp32":
                    t0 = time.perf_counter()
                    pipe(text, truncation=True, max_length=MAX_LENGTH)
                    pipe_lat.append((time.perf_counter() - t0) * 1000)
            out[f"single p50 {variant}"] = percentile(lat, 50)
            out[f"single p95 {variant}"] = percentile(lat, 95)
            server = [
                http.post("/predict", json={**body, "text": t}).json()["latency_ms"]
                for t in single[:30]
            ]
            out[f"server p50 {variant}"] = statistics.median(server)
            # Every variant: ONNX fp32 is what a freshly trained version serves by default.
            p95, errors = concurrent(url, body, single, CLIENTS, clients_each)
            out[f"8 clients p95 {variant}"], out[f"8 clients errors {variant}"] = (
                p95,
                errors,
            )
            ours_s = 0.0
            for start in range(0, len(batch), 256):
                chunk = batch[start : start + 256]
                t0 = time.perf_counter()
                http.post("/predict", json={**body, "texts": chunk}).raise_for_status()
                ours_s += time.perf_counter() - t0
                if variant == "fp32":
                    t0 = time.perf_counter()
                    pipe(chunk, batch_size=64, truncation=True, max_length=MAX_LENGTH)
                    pipe_batch_s += time.perf_counter() - t0
            out[f"batch texts/s {variant}"] = len(batch) / ours_s
    pipe_stats = {
        "single p50": percentile(pipe_lat, 50),
        "single p95": percentile(pipe_lat, 95),
        "batch texts/s": len(batch) / pipe_batch_s,
    }
    return out, pipe_stats


def concurrent(
    url: str, body: dict, texts: list[str], clients: int, each: int
) -> tuple[float, int]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for i in range(each):
                t0 = time.perf_counter()
                try:
                    ok = http.post(
                        "/predict",
                        json={**body, "text": texts[(k * each + i) % len(texts)]},
                    ).is_success
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    errors[0] += not ok

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return percentile(latencies, 95), errors[0]


def make_pipeline(data_dir: Path, version_id: int):
    """`transformers.pipeline("text-classification")` in-process on the same version folder, warmed up."""
    from llm_trainer.ml.modeling import load_classifier
    from transformers import pipeline

    tokenizer, model = load_classifier(data_dir / "models" / str(version_id), "cpu")
    pipe = pipeline(
        "text-classification", model=model, tokenizer=tokenizer, device=-1, top_k=None
    )
    for _ in range(10):
        pipe(
            "这家店的菜很好吃，送餐也快，下次还会再来",
            truncation=True,
            max_length=MAX_LENGTH,
        )
    return pipe


def report(
    results: dict[str, float], pipe: dict[str, float], detail: dict, note: str
) -> None:
    load = os.getloadavg()
    print(
        f"\nmodel: {note}; cores: {os.cpu_count()}; load average now: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    print(
        f"{'measure':28} {'value':>10} {'target':>10} {'ok':>4} {'pipeline':>10} {'ratio':>7}"
    )
    for key, value in results.items():
        target = TARGETS.get(key)
        ok = (
            ""
            if target is None
            else (
                "yes"
                if (value <= target[1] if target[0] == "<=" else value >= target[1])
                else "NO"
            )
        )
        base_key = "single p50" if key.startswith("single p50") else "single p95" if key.startswith("single p95") else (
            "batch texts/s" if key.startswith("batch") else None)  # fmt: skip
        base = pipe.get(base_key) if base_key else None
        ratio = (
            ""
            if base is None
            else f"{(value / base if key.startswith('batch') else base / value):.2f}x"
        )
        unit = (
            ""
            if "errors" in key or key.startswith("windows")
            else (" t/s" if key.startswith("batch") else " ms")
        )
        print(f"{key:28} {value:>9.1f}{unit[:1] if unit else ' '} {(target[0] + str(target[1])) if target else '':>10} "
              f"{ok:>4} {'' if base is None else f'{base:.1f}':>10} {ratio:>7}")  # fmt: skip
    print("(fp32 = PyTorch eager; onnx = ONNX Runtime fp32, the copy a trained version serves by default; int8 = "
          "opt-in quantised export. fp32 targets apply to both fp32 rows.)")  # fmt: skip
    print("(single/8-client latencies: client-observed through HTTP; 'server p50': the API's own latency_ms; "
          "ratio: speed-up over transformers.pipeline in-process, target >= 1.5x)")  # fmt: skip
    for name in ("onnx", "onnx_int8"):
        info = detail["variants"][name]
        ev = info.get("evaluation") or {}
        print(f"{name}: accuracy {ev.get('accuracy')} vs pytorch {ev.get('accuracy_reference')} "
              f"(delta {info.get('accuracy_delta')}), agreement {ev.get('agreement')}, "
              f"max prob diff {ev.get('max_probability_diff')}, on {ev.get('samples')} validation texts, "
              f"size {info.get('size_bytes', 0) / 2**20:.1f} MB")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
