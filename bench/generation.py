"""LoRA SFT and serving of the embedded Gemma 3 270M, measured on this machine (the CPU's flags are printed: AVX2
only, or AVX-512 / bf16; the machine has 2 shared cores: other jobs slow it, so the load average is printed too).

--mode step (default): one LoRA step per way of computing the loss (full logits, the batch's labelled positions,
  each row's labelled positions) on alpaca_zh_demo_1k rows.
--mode run: trains on --rows rows of alpaca_zh_demo_1k per --settings (kept, full): train seconds, tokens/s, answer
  tokens/s, validation loss and the base model's.
--mode serve: first-token time and tokens/s of one chat stream (30-character prompt, 64 greedy tokens) as a version
  is served, then 4 concurrent streams.
--mode compare: (a) the product's LoRA SFT on the first --rows rows of --data (alpaca_zh_20k; max length 256,
  1 epoch, otherwise defaults), (b) a plain transformers + peft script (bench/generation_plain.py: stock Trainer,
  full-vocabulary logits, no length grouping, same LoRA config, batch, learning rate) on the same rows and split
  (--max-steps N times it on its first N steps only; the table says so), (c) ROUGE-L / BLEU-4 of base vs fine-tuned
  greedy answers on the next --heldout rows. Prints tokens/s of both, the ratio, validation losses and the scores.

Usage: .venv/bin/python bench/generation.py --mode compare --rows 500 --heldout 200 --cache DATA_DIR/cache
       .venv/bin/python bench/generation.py --mode serve --cache DATA_DIR/cache [--threads 1]
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

SFT = ROOT.parent / "shared" / "datasets" / "sft"
DATA = SFT / "alpaca_zh_demo_1k.jsonl"
COMPARE_DATA = SFT / "alpaca_zh_20k.jsonl"


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


def conversations(rows: int, path: Path = DATA) -> list:
    from llm_trainer.ml.tasks.generation.data import open_generation_file
    from llm_trainer.ml.tasks.spec import TaskRow

    opened = open_generation_file(path, path.name, {})
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
    cache: Path,
    streams: int = 4,
    repeats: int = 5,
    threads: int | None = None,
    decode_threads: int | None = None,
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
    generator.warm_up()  # calibrates the decode steps' thread count
    if decode_threads:
        generator.decode_threads = decode_threads
    threads = on_torch_thread(torch.get_num_threads)
    print(
        f"serving dtype {model.dtype}, {threads} torch threads, decode steps on {generator.decode_threads}, "
        f"attention {model.config._attn_implementation}, "
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


def compare(args: argparse.Namespace, cache: Path) -> None:
    """(a) the product's LoRA SFT on the first --rows rows of alpaca_zh_20k, (b) the plain transformers + peft
    script (bench/generation_plain.py) on the same tokenised rows and split, (c) ROUGE-L / BLEU-4 of base vs
    fine-tuned greedy answers on the next --heldout rows (never trained or validated on). Prints one table."""
    import os

    from generation_plain import held_out_scores, plain_lora_sft
    from llm_trainer.ml.base_models.sources import EMBEDDED_GEMMA_SOURCE
    from llm_trainer.ml.modeling import resolve_source_folder
    from llm_trainer.ml.tasks.generation.chat import encode_many, ensure_chat_template
    from llm_trainer.ml.tasks.generation.spec import split_conversations
    from llm_trainer.ml.tasks.generation.training import train_generation_version
    from llm_trainer.ml.tasks.spec import ModelJob
    from llm_trainer.ml.training.config import TrainingConfig
    from llm_trainer.ml.training.trainer import resolve_precision
    from transformers import AutoTokenizer

    load_before = os.getloadavg()[0]
    rows = conversations(args.rows + args.heldout, args.data)
    train_rows, held = rows[: args.rows], rows[args.rows :]
    # Live sample answers are generation inside the timed training loop, not training: off here, on both sides.
    overrides = {"epochs": 1, "max_length": args.max_length, "sample_prompts": 0}
    if args.batch_size:
        overrides["batch_size"] = args.batch_size
    cfg = TrainingConfig(**overrides)  # everything else: the product's defaults
    data = split_conversations(train_rows, cfg)
    folder = resolve_source_folder(EMBEDDED_GEMMA_SOURCE, cache)
    print(
        f"CPU flags: {cpu_flags()}; load average {load_before:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    print(f"{args.data.name}: {len(data.train)} train / {data.val_size} validation rows, {len(held)} held out; "
          f"max_length {cfg.max_length}, batch {cfg.batch_size}, lr {cfg.learning_rate}, LoRA r{cfg.lora_rank} "
          f"alpha {cfg.lora_alpha}, 1 epoch, live sample answers off", flush=True)  # fmt: skip

    results: dict[str, dict] = {}
    if "product" in args.parts:
        work = Path(tempfile.mkdtemp(prefix="bench-gen-product-"))
        started = time.monotonic()
        version = train_generation_version(
            data, ModelJob(EMBEDDED_GEMMA_SOURCE, cfg, work, cache), PrintReporter()
        )
        m = version.metrics
        adapter = work / "version"
        version.write_files(adapter)
        results["product"] = {"train_seconds": m["train_seconds"], "tokens_per_s": m["tokens_per_s"],
                              "loss": m["loss"], "base_loss": (m.get("baseline") or {}).get("loss"),
                              "steps": m["global_step"], "wall_s": round(time.monotonic() - started, 1),
                              "rouge_l_val": m.get("rouge_l"), "base_rouge_l_val": (m.get("baseline") or {}).get("rouge_l")}  # fmt: skip
        print(json.dumps({"product": results["product"]}), flush=True)
        if "heldout" in args.parts and held:
            prompts = [json.loads(r.annotation)[:-1] for r in held]
            references = [json.loads(r.annotation)[-1]["content"] for r in held]
            results["heldout"] = held_out_scores(folder, adapter, prompts, references)
    if "plain" in args.parts:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        ensure_chat_template(tokenizer)

        def encoded(convs: list) -> list[dict]:
            return [{"input_ids": e.input_ids, "labels": e.labels}
                    for e in encode_many(tokenizer, convs, cfg.max_length) if any(y != -100 for y in e.labels)]  # fmt: skip

        results["plain"] = plain_lora_sft(
            folder, encoded(data.train), encoded(data.val), cfg, resolve_precision(cfg.precision, "cpu"),
            args.plain_micro_batch, args.max_steps, Path(tempfile.mkdtemp(prefix="bench-gen-plain-")),
        )  # fmt: skip
        print(json.dumps({"plain": results["plain"]}), flush=True)

    print(
        "\n| | product (logits at answers, length-grouped) | plain transformers + peft |",
        flush=True,
    )
    print("|---|---|---|")
    product, plain = results.get("product", {}), results.get("plain", {})
    partial = plain and plain["steps"] < plain["total_steps"]
    steps_note = (
        f" (timed on {plain['steps']} of {plain['total_steps']} steps)"
        if partial
        else ""
    )
    print(
        f"| train tokens/s | {product.get('tokens_per_s', '-')} | {plain.get('tokens_per_s', '-')}{steps_note} |"
    )
    print(
        f"| train seconds | {product.get('train_seconds', '-')} | {plain.get('train_seconds', '-')} |"
    )
    loss_note = f" (after {plain['steps']} steps only)" if partial else ""
    print(f"| validation loss | {product.get('loss', '-')} (base {product.get('base_loss', '-')}) | "
          f"{plain.get('loss', '-')}{loss_note} |")  # fmt: skip
    if plain:
        print(f"| batch | {cfg.batch_size} rows a step | {plain['micro_batch']} x {plain['accumulation']} "
              "accumulated (full logits of the whole batch do not fit) |")  # fmt: skip
    if product.get("tokens_per_s") and plain.get("tokens_per_s"):
        print(
            f"\nspeed-up: {product['tokens_per_s'] / plain['tokens_per_s']:.2f}x the plain script's tokens/s"
        )
    if "heldout" in results:
        h = results["heldout"]
        print(f"held-out ROUGE-L on {len(held)} examples: fine-tuned {h['tuned']['rouge_l']} vs base "
              f"{h['base']['rouge_l']}; BLEU-4 {h['tuned']['bleu_4']} vs {h['base']['bleu_4']}")  # fmt: skip
    print(
        f"product wall {product.get('wall_s', '-')} s; train seconds include the end-of-epoch evaluation on both "
        f"sides (not in a --max-steps plain run) and the product's checkpoint; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=100)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="default: 4 (step, run), the product's (compare)",
    )
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
        choices=["step", "run", "serve", "compare"],
        default="step",
        help="step: one step per loss; run: training; serve: chat speed; compare: product vs plain script",
    )
    ap.add_argument(
        "--data", type=Path, default=COMPARE_DATA, help="compare: the SFT file"
    )
    ap.add_argument(
        "--heldout",
        type=int,
        default=200,
        help="compare: rows after --rows answered and scored",
    )
    ap.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="compare: time the plain script on this many steps",
    )
    ap.add_argument(
        "--plain-micro-batch",
        type=int,
        default=4,
        help="compare: plain rows per forward pass",
    )
    ap.add_argument(
        "--parts",
        default="product,heldout,plain",
        help="compare: which of product,heldout,plain",
    )
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--decode-threads",
        type=int,
        default=None,
        help="serve: OpenMP threads for decode steps (default: the server's calibrated choice)",
    )
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
    if args.mode == "compare":
        compare(args, cache)
        return 0
    args.batch_size = args.batch_size or 4
    rows = conversations(args.rows)
    print(
        f"CPU flags: {cpu_flags()}; {len(rows)} rows of {DATA.name}, max_length {args.max_length}",
        flush=True,
    )
    if args.mode == "serve":
        serve_times(
            cache,
            repeats=args.repeats,
            threads=args.threads,
            decode_threads=args.decode_threads,
        )
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
