"""LoRA SFT speed on the embedded Gemma 3 270M: the product's own reader and trainer on the first rows of
alpaca_zh_demo_1k, once with logits only at labelled positions (the default) and once with full logits everywhere.

Usage: .venv/bin/python bench/generation.py [--mode step|run] [--rows 100] [--max-length 256] [--batch-size 4]
       [--cache DIR]
--mode step (default) times one LoRA step per way of computing the loss (full logits, the batch's labelled
positions, each row's labelled positions). --mode run trains on --rows rows and prints, per setting: train seconds, tokens/s (prompt + answer), answer tokens/s, validation loss and the base
model's, and the CPU's flags (AVX2 only, or AVX-512 / bf16). The machine has 2 shared cores: other jobs slow it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

DATA = ROOT.parent / "shared" / "datasets" / "sft" / "alpaca_zh_demo_1k.jsonl"


class PrintReporter:
    def progress(self, snapshot: dict) -> None:
        if snapshot.get("phase") == "training" and snapshot.get("step"):
            print(
                f"  step {snapshot['step']}/{snapshot['total_steps']} loss {snapshot.get('loss')}",
                flush=True,
            )

    def metric(self, kind: str, step: int, epoch: float, values: dict) -> None:
        pass

    def stop_requested(self) -> bool:
        return False

    def info(self, message: str) -> None:
        print("  " + message, flush=True)


def cpu_flags() -> str:
    flags = Path("/proc/cpuinfo").read_text()
    found = [
        f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f" {f}" in flags
    ]
    return ", ".join(found) or "none of avx2/avx512"


def conversations(rows: int) -> list:
    from llm_trainer.ml.tasks.generation.data import open_generation_file
    from llm_trainer.ml.tasks.spec import TaskRow

    opened = open_generation_file(DATA, DATA.name, {})
    kept = []
    for record in opened.records:
        row = opened.validator.add(record)
        if row is not None:
            kept.append(TaskRow(row[1], row[2], row[3], None, row[6]))
        if len(kept) == rows:
            break
    return kept


def step_times(
    rows: list, max_length: int, batch_size: int, cache: Path, repeats: int
) -> dict:
    """Seconds of one LoRA training step (forward + backward) on the same batch: full logits at every position
    (transformers' own loss), logits at the batch's labelled positions (`logits_to_keep`), and logits at each row's
    labelled positions only (`labelled_loss`, the product's default)."""
    import torch
    from llm_trainer.ml.base_models.sources import EMBEDDED_GEMMA_SOURCE
    from llm_trainer.ml.modeling import resolve_source_folder
    from llm_trainer.ml.tasks.generation.chat import encode_many
    from llm_trainer.ml.tasks.generation.training import (
        ChatCollator,
        _with_lora,
        causal_loss,
        labelled_loss,
        load_causal_lm,
    )
    from llm_trainer.ml.training.config import TrainingConfig
    from llm_trainer.ml.training.trainer import resolve_precision

    folder = resolve_source_folder(EMBEDDED_GEMMA_SOURCE, cache)
    tokenizer, model = load_causal_lm(folder, EMBEDDED_GEMMA_SOURCE)
    model = _with_lora(model, TrainingConfig())
    convs = [json.loads(r.annotation) for r in rows[:batch_size]]
    features = [
        {"input_ids": e.input_ids, "labels": e.labels}
        for e in encode_many(tokenizer, convs, max_length)
    ]
    full = ChatCollator(tokenizer.pad_token_id, keep_logits=False)(features)
    kept = ChatCollator(tokenizer.pad_token_id)(features)
    tokens = int(full["attention_mask"].sum())
    labelled = int((full["labels"][:, 1:] != -100).sum())
    shape = f"batch {batch_size} x {full['input_ids'].shape[1]} tokens"
    print(
        f"{shape}: {tokens} real, {labelled} labelled, {kept['logits_to_keep'].numel()} kept positions",
        flush=True,
    )
    bf16 = resolve_precision("auto", "cpu") == "bf16"

    def run(kind: str) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if kind == "full":
                loss = model(**full).loss
            elif kind == "batch_positions":
                inputs = {k: v for k, v in kept.items() if k != "labels"}
                loss = causal_loss(model(**inputs), kept["labels"])
            else:
                loss = labelled_loss(model, full)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss)

    out = {}
    for kind in ("full", "batch_positions", "row_positions"):
        loss = run(kind)  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            run(kind)
        seconds = (time.perf_counter() - started) / repeats
        out[kind] = {
            "step_s": round(seconds, 2),
            "tokens_per_s": round(tokens / seconds, 1),
            "loss": round(loss, 4),
        }
        print(json.dumps({kind: out[kind]}), flush=True)
    return out


def serve_times(
    cache: Path, streams: int = 4, repeats: int = 5, threads: int | None = None
) -> dict:
    """Time to first token and tokens/s of one stream (30-character prompt, greedy, 64 tokens) of the embedded Gemma
    as a version serves it (serving dtype, forward passes on the torch thread), `repeats` times (p50), then `streams`
    concurrent streams (errors counted, first-token time of each)."""
    import os
    import threading

    import torch
    from llm_trainer.ml.base_models.sources import EMBEDDED_GEMMA_SOURCE
    from llm_trainer.ml.inference.runtime import on_torch_thread
    from llm_trainer.ml.modeling import resolve_source_folder
    from llm_trainer.ml.tasks.generation.chat import ensure_chat_template
    from llm_trainer.ml.tasks.generation.predictor import (
        ChatGenerator,
        ChatRequest,
        load_causal_for_serving,
    )
    from transformers import AutoTokenizer

    folder = resolve_source_folder(EMBEDDED_GEMMA_SOURCE, cache)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ensure_chat_template(tokenizer)
    model = on_torch_thread(
        load_causal_for_serving, folder
    )  # as a served version loads
    if threads:  # OpenMP threads are per thread: set them on the torch thread
        on_torch_thread(torch.set_num_threads, threads)
    generator = ChatGenerator(tokenizer, model, 4096, serving=True)
    generator.warm_up()
    threads = on_torch_thread(torch.get_num_threads)
    print(
        f"serving dtype {model.dtype}, {threads} torch threads, attention {model.config._attn_implementation}, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    prompt = "请用三句话介绍一下杭州的西湖，包括它的历史和著名景点。"[:30]
    request = ChatRequest(
        [{"role": "user", "content": prompt}], max_new_tokens=64, temperature=0
    )
    runs = [generator.predict([request])[0] for _ in range(repeats)]
    firsts = sorted(a.first_token_ms or 0 for a in runs)
    speeds = sorted(a.completion_tokens / a.seconds for a in runs)
    single = {"first_token_ms_p50": round(firsts[len(firsts) // 2], 1), "first_token_ms_min": round(firsts[0], 1),
              "tokens_per_s_p50": round(speeds[len(speeds) // 2], 2), "tokens_per_s_max": round(speeds[-1], 2),
              "tokens": runs[0].completion_tokens, "prompt_tokens": runs[0].prompt_tokens, "runs": repeats}  # fmt: skip
    print(json.dumps({"one_stream": single}), flush=True)
    errors, answers = [], []

    def consume() -> None:
        try:
            stream = generator.stream(request)
            "".join(stream)
            answers.append(stream.answer)
        except Exception as exc:  # noqa: BLE001 - counted
            errors.append(repr(exc))

    threads = [threading.Thread(target=consume) for _ in range(streams)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    together = {"streams": streams, "errors": len(errors), "wall_s": round(wall, 1),
                "total_tokens_per_s": round(sum(a.completion_tokens for a in answers) / wall, 2),
                "first_token_ms": sorted(round(a.first_token_ms or 0) for a in answers)}  # fmt: skip
    print(json.dumps({"concurrent": together}), flush=True)
    return {"one_stream": single, "concurrent": together}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=100)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="A cache dir holding (or to hold) the converted Gemma.",
    )
    ap.add_argument(
        "--settings",
        default="kept,full",
        help="Comma list of kept (logits at labels) and full.",
    )
    ap.add_argument(
        "--mode",
        choices=["step", "run", "serve"],
        default="step",
        help="step: one step per loss; run: training",
    )
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="serve: torch threads (default: the server's, all cores)",
    )
    args = ap.parse_args()

    from llm_trainer.ml.base_models.sources import EMBEDDED_GEMMA_SOURCE
    from llm_trainer.ml.tasks.generation.spec import split_conversations
    from llm_trainer.ml.tasks.generation.training import train_generation_version
    from llm_trainer.ml.tasks.spec import ModelJob
    from llm_trainer.ml.training.config import TrainingConfig

    if (
        args.mode == "serve"
    ):  # as the server does: torch first imported with its OpenMP settings
        from llm_trainer.ml.inference.runtime import configure_torch

        configure_torch()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-gen-cache-"))
    rows = conversations(args.rows)
    print(
        f"CPU flags: {cpu_flags()}; {len(rows)} rows of {DATA.name}, max_length {args.max_length}",
        flush=True,
    )
    if args.mode == "serve":
        serve_times(cache, repeats=args.repeats, threads=args.threads)
        return 0
    if args.mode == "step":
        step_times(rows, args.max_length, args.batch_size, cache, args.repeats)
        return 0
    results = {}
    for name in args.settings.split(","):
        cfg = TrainingConfig(epochs=1, batch_size=args.batch_size, max_length=args.max_length,
                             logits_on_labels_only=name == "kept", save_strategy="no", eval_strategy="epoch")  # fmt: skip
        data = split_conversations(rows, cfg)
        work = Path(tempfile.mkdtemp(prefix=f"bench-gen-{name}-"))
        print(
            f"[{name}] training on {len(data.train)} rows, validating on {data.val_size}",
            flush=True,
        )
        started = time.monotonic()
        version = train_generation_version(
            data, ModelJob(EMBEDDED_GEMMA_SOURCE, cfg, work, cache), PrintReporter()
        )
        m = version.metrics
        results[name] = {k: m.get(k) for k in ("train_seconds", "tokens_per_s", "trained_tokens_per_s", "loss",
                                               "perplexity", "baseline", "precision", "max_length")}  # fmt: skip
        results[name]["wall_s"] = round(time.monotonic() - started, 1)
        print(json.dumps({name: results[name]}, ensure_ascii=False), flush=True)
    if {"kept", "full"} <= set(results):
        speedup = results["kept"]["tokens_per_s"] / results["full"]["tokens_per_s"]
        print(
            f"logits only at labelled positions: {speedup:.2f}x the tokens/s of full logits",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
