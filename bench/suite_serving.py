"""Rows 3 (prediction latency against length, server RSS) and 4 (inference) of `make bench`, through real HTTP.

One `llm-trainer serve` on the bench's data dir; the version is bench/predict.py's (embedded e5-small, vocabulary
trimmed, head fitted on frozen embeddings of waimai_10k, max length 128), its ONNX and int8 copies built through the
API. The in-process `transformers.pipeline` on the same folder is the comparison (it truncates at 128 tokens).
"""

from __future__ import annotations

import socket
import statistics
import time

import httpx
import psutil
from report import row
from suite_data import DATASETS, sample_file, texts_of_chars, texts_of_tokens
from suite_training import MB, Context, guarded

LATENCY_TOKENS = (32, 64, 128, 256)
DOC_CHARS = 3000
LONG_CHARS = 300
SHORT_TEXT = "这家店的菜很好吃，送餐也快，下次还会再来"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / MB, 1)


def serving(ctx: Context, inference: bool, latency: bool) -> tuple[list[dict], dict]:
    """Start the server, build the version, then the inference rows and/or latency-vs-length and RSS rows."""
    import predict  # sets OpenMP spin variables for the in-process pipeline: imported only here
    from ingest import RssSampler

    s = ctx.sizes
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = predict.start_server(port, ctx.env)
    rows, series = [], {}
    try:
        time.sleep(2)
        idle = rss_mb(server.pid)
        source = (
            sample_file(
                "waimai_10k.csv", s.serve_rows, ctx.scratch / "serve-waimai.csv"
            )
            if s.serve_rows
            else DATASETS / "waimai_10k.csv"
        )
        with httpx.Client(base_url=url, timeout=600) as http:
            dataset_id = predict.upload_dataset(http, source)
            version_id, note = predict.build_version(
                ctx.data_dir, dataset_id, s.head_fit
            )
            body = {"model_id": version_id, "variant": "pytorch"}
            for _ in range(20):
                http.post(
                    "/predict", json={**body, "text": SHORT_TEXT}
                ).raise_for_status()
            loaded = rss_mb(server.pid)
            predict.build_variants(http, version_id)
            detail = http.get(f"/api/models/{version_id}").json()
        pipe = predict.make_pipeline(ctx.data_dir, version_id)
        sampler = RssSampler(server.pid)
        sampler.start()
        if latency:
            points = series.setdefault("latency_length", [])
            rows.append(
                guarded(
                    "3c",
                    "Prediction latency against length",
                    latency_row,
                    ctx,
                    url,
                    version_id,
                    points,
                )
            )
        if inference:
            try:
                rows += inference_rows(ctx, url, version_id, pipe, detail, note)
            except Exception as exc:  # noqa: BLE001 - the RSS row below still counts
                rows.append(guarded("4", "Inference", _raise, exc))
        peak = round(sampler.stop() / MB, 1)
    finally:
        server.terminate()
        server.wait(30)
    rows.append(
        row(
            "3d",
            "Peak RSS of the server process (`llm-trainer serve`): idle after start; with one model loaded "
            "(PyTorch fp32 e5-small after 20 requests); highest while this bench's prediction measures ran "
            "(the variants they used loaded; with row 4: PyTorch, ONNX and int8, 8 clients)",
            f"idle {idle:.0f} MB; one model {loaded:.0f} MB; under load {peak:.0f} MB",
            "report",
            None,
            idle_mb=idle,
            one_model_mb=loaded,
            peak_mb=peak,
        )
    )
    return rows, series


def latency_vs_length(ctx: Context, url: str, version_id: int) -> list[dict]:
    """Single-request p50 through HTTP for texts of exactly 32..256 tokens and a 3,000-character document."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(ctx.data_dir / "models" / str(version_id))
    n = max(5, ctx.sizes.requests // 4)
    cases = [
        (f"{t} tokens", t, texts_of_tokens(tokenizer, t, 10)) for t in LATENCY_TOKENS
    ]
    doc = texts_of_chars(DOC_CHARS, 3)
    cases.append((f"{DOC_CHARS:,} chars", len(tokenizer(doc[0])["input_ids"]), doc))
    points = []
    with httpx.Client(base_url=url, timeout=600) as http:
        for name, tokens, texts in cases:
            point = {"case": name, "tokens": tokens}
            for variant in ("pytorch", "onnx"):
                body = {"model_id": version_id, "variant": variant}
                http.post(
                    "/predict", json={**body, "text": texts[0]}
                ).raise_for_status()
                times, windows = [], 1
                for i in range(n):
                    t0 = time.perf_counter()
                    r = http.post(
                        "/predict", json={**body, "text": texts[i % len(texts)]}
                    )
                    times.append((time.perf_counter() - t0) * 1000)
                    r.raise_for_status()
                    windows = max(windows, r.json().get("windows") or 1)
                point[f"p50_ms_{variant}"] = round(statistics.median(times), 2)
                point["windows"] = windows
            points.append(point)
    return points


def _raise(exc: Exception) -> None:
    raise exc


def latency_row(ctx: Context, url: str, version_id: int, points: list[dict]) -> dict:
    points += latency_vs_length(ctx, url, version_id)
    return row(
        "3c",
        "Prediction latency against text length: one text per request through HTTP, p50 ms, ONNX (what a trained "
        "version serves) and PyTorch fp32; max length 128, longer texts read in overlapping windows",
        "; ".join(
            f"{p['case']}: {p['p50_ms_onnx']:.1f} ms onnx / {p['p50_ms_pytorch']:.1f} ms fp32"
            + (f" ({p['windows']} windows)" if p["windows"] > 1 else "")
            for p in points
        ),
        "report",
        None,
        points=points,
    )


def _check(value: float, target: tuple[str, float] | None) -> bool | None:
    if target is None:
        return None
    return value <= target[1] if target[0] == "<=" else value >= target[1]


def _all(*checks: bool | None) -> bool | None:
    known = [c for c in checks if c is not None]
    return all(known) if known else None


def inference_rows(ctx, url, version_id, pipe, detail, note) -> list[dict]:
    """Row 4: bench/predict.py's measures on ~30-character reviews, then 300-character texts and a 3,000-character
    document through the window path."""
    import predict

    s = ctx.sizes
    targets = predict.TARGETS
    variants = ("fp32", "onnx", "onnx_int8")
    short, pipe_short = predict.measure(
        url, version_id, s.requests, pipe, variants=variants, clients_each=s.clients_each,
        **_default_texts(predict, version_id, s.batch_texts),
    )  # fmt: skip
    rows = []
    ratio_single = pipe_short["single p50"] / short["single p50 fp32"]
    ratio_batch = short["batch texts/s fp32"] / pipe_short["batch texts/s"]
    checks = [
        _check(short[f"single {q} {v}"], targets.get(f"single {q} {v}"))
        for q in ("p50", "p95")
        for v in variants
    ]
    rows.append(
        row(
            "4a",
            f"Inference, one ~30-character review per HTTP request ({s.requests} sequential per variant); "
            f"model: {note}",
            "; ".join(
                f"{v} p50 {short[f'single p50 {v}']:.1f} / p95 {short[f'single p95 {v}']:.1f} ms"
                for v in variants
            )
            + f"; transformers.pipeline in-process p50 {pipe_short['single p50']:.1f} ms: fp32 "
            f"**{ratio_single:.2f}x** faster",
            "p50 <= 20 ms fp32, <= 10 ms ONNX/int8; p95 <= 40 ms; >= 1.5x the pipeline",
            _all(*checks, ratio_single >= 1.5),
            measures=short,
            pipeline=pipe_short,
        )
    )
    checks = [
        _check(short[f"8 clients p95 {v}"], targets.get(f"8 clients p95 {v}"))
        for v in variants
    ]
    errors = sum(short[f"8 clients errors {v}"] for v in variants)
    rows.append(
        row(
            "4b",
            f"Inference, 8 concurrent clients x {s.clients_each} requests of one review each",
            "; ".join(f"{v} p95 {short[f'8 clients p95 {v}']:.1f} ms" for v in variants)
            + f"; errors {errors:.0f}",
            "p95 <= 100 ms, no errors",
            _all(*checks, errors == 0),
        )
    )
    checks = [
        _check(short[f"batch texts/s {v}"], targets.get(f"batch texts/s {v}"))
        for v in variants
    ]
    rows.append(
        row(
            "4c",
            f"Inference, {s.batch_texts:,} validation reviews in requests of 256 texts",
            "; ".join(
                f"{v} {short[f'batch texts/s {v}']:.0f} texts/s" for v in variants
            )
            + f"; pipeline {pipe_short['batch texts/s']:.0f} texts/s: fp32 **{ratio_batch:.2f}x**",
            ">= 150 texts/s fp32 and ONNX, >= 300 int8; >= 1.5x the pipeline",
            _all(*checks, ratio_batch >= 1.5),
        )
    )
    rows += long_rows(ctx, url, version_id, pipe)
    accuracy = []
    for name in ("onnx", "onnx_int8"):
        info = detail["variants"][name]
        ev = info.get("evaluation") or {}
        accuracy.append(
            f"{name} accuracy {ev.get('accuracy', 0):.4f} vs PyTorch {ev.get('accuracy_reference', 0):.4f} "
            f"(agreement {ev.get('agreement', 0):.4f}, {ev.get('samples')} texts, {info.get('size_bytes', 0) / MB:.0f} MB)"
        )
    rows.append(
        row("4f", "Inference variants' accuracy on the validation split (export check)", "; ".join(accuracy),
            "report", None, variants=detail["variants"])
    )  # fmt: skip
    return rows


def _default_texts(predict, version_id: int, batch_texts: int) -> dict:
    texts, _ = predict.validation_texts(version_id)
    single = [t for t in texts if 25 <= len(t) <= 35] or texts
    return {"single": single, "batch": texts[:batch_texts]}


def long_rows(ctx: Context, url: str, version_id: int, pipe) -> list[dict]:
    """300-character texts and a 3,000-character document (windows), ONNX and fp32 against the pipeline."""
    import predict

    s = ctx.sizes
    out = []
    cases = [
        ("4d", f"{LONG_CHARS}-character texts (CSLDCP abstracts)", texts_of_chars(LONG_CHARS, s.long_batch),
         s.long_requests),
        ("4e", f"one {DOC_CHARS:,}-character document (joined CSLDCP abstracts)", texts_of_chars(DOC_CHARS, 4),
         s.doc_requests),
    ]  # fmt: skip
    for row_id, what, texts, n in cases:
        batch = texts if row_id == "4d" else texts * 4
        res, base = predict.measure(
            url, version_id, n, pipe, single=texts, batch=batch, variants=("fp32", "onnx"),
            clients_each=max(2, n // 8),
        )  # fmt: skip
        out.append(
            row(
                row_id,
                f"Inference, {what} through the window path (max length 128; {res['windows onnx']} windows per "
                f"text): one per request ({n}), 8 clients, batches; the pipeline reads only the first 128 tokens",
                f"onnx p50 {res['single p50 onnx']:.0f} / p95 {res['single p95 onnx']:.0f} ms, 8 clients p95 "
                f"{res['8 clients p95 onnx']:.0f} ms, {res['batch texts/s onnx']:.1f} texts/s; fp32 p50 "
                f"{res['single p50 fp32']:.0f} ms, {res['batch texts/s fp32']:.1f} texts/s; pipeline (truncated) "
                f"p50 {base['single p50']:.0f} ms, {base['batch texts/s']:.1f} texts/s",
                "no target in issue 14 (report); no errors",
                res["8 clients errors onnx"] + res["8 clients errors fp32"] == 0,
                measures=res,
                pipeline=base,
            )
        )
    return out
