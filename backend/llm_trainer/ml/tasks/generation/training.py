"""Supervised fine-tuning of a causal LM on conversations with the HF Trainer: LoRA (peft) or full weights.

The loss covers the assistant tokens only (labels -100 elsewhere). The LM head, whose output is vocabulary-wide
(262k for Gemma 3), runs only where the loss reads it: on each row's labelled positions (`labelled_loss`), or in
data-parallel runs at the positions where some row of the batch has a label (`logits_to_keep`). The version's
metric is validation loss / perplexity, next to the base model's on the same split (`metrics["baseline"]`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.run_status import RunPhase
from llm_trainer.ml.base_models.kinds import folder_architectures, generates_text
from llm_trainer.ml.tasks.generation.chat import IGNORE, Encoded, encode_many, ensure_chat_template
from llm_trainer.ml.tasks.spec import ModelJob, TrainedVersion

log = logging.getLogger("llm_trainer.worker")
DEFAULT_MAX_TOKENS = 512  # auto max length is the 95th percentile, capped here (CPU time grows with it)
GENERATION_META = "generation.json"  # in the version folder: base model reference, fine-tuning kind, stop tokens
# LoRA targets per architecture (peft names): attention and MLP projections, what LoRA papers found to pay off.
LORA_TARGETS = {
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "bloom": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "gpt_neox": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
}
PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]  # Llama, Qwen, Gemma...


@dataclass
class ChatSplit:
    """Conversations (lists of {role, content}) of the training and validation parts; generation has no labels."""

    train: list[list[dict[str, str]]]
    val: list[list[dict[str, str]]]
    labels: list[str]

    @property
    def val_size(self) -> int:
        return len(self.val)


def lora_targets(model: Any, chosen: list[str]) -> list[str] | str:
    """The user's modules, else the architecture's projections, else every linear layer but the LM head."""
    if chosen:
        return chosen
    model_type = getattr(model.config, "model_type", "")
    if model_type in LORA_TARGETS:
        return LORA_TARGETS[model_type]
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    found = [p for p in PROJECTIONS if p in names]
    return found or "all-linear"


def not_a_causal_lm(source: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"{source} is not a causal language model ({why}): it reads text but does not write it. Generation needs a "
        "decoder model such as Qwen/Qwen2.5-0.5B-Instruct or the embedded Gemma 3 270M (embedded:gemma-3-270m).",
        code="not_a_causal_lm",
    )


def load_causal_lm(folder: Path, source: str) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    architectures = folder_architectures(folder)
    if generates_text(architectures) is False:
        raise not_a_causal_lm(source, f"saved as {', '.join(architectures or [])}")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=False)
    except ValueError as exc:  # a model type with no causal LM head at all
        raise not_a_causal_lm(source, str(exc)) from exc
    ensure_chat_template(tokenizer)
    return tokenizer, model


class _Encodings:
    def __init__(self, items: list[Encoded]) -> None:
        self.items = [{"input_ids": e.input_ids, "labels": e.labels} for e in items if e.trained_tokens]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def kept_positions(labels: Any) -> Any:
    """Positions whose next token has a label in some row: the only ones whose logits the loss reads."""
    return (labels[:, 1:] != IGNORE).any(dim=0).nonzero().squeeze(1)


class ChatCollator:
    """Right-pads a batch and asks the model for the logits at `kept_positions` only (`logits_to_keep`)."""

    def __init__(self, pad_id: int, keep_logits: bool = True, multiple: int | None = None) -> None:
        self.pad_id, self.keep_logits, self.multiple = pad_id, keep_logits, multiple

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        longest = max(len(f["input_ids"]) for f in features)
        if self.multiple:
            longest = -(-longest // self.multiple) * self.multiple
        ids = torch.full((len(features), longest), self.pad_id, dtype=torch.long)
        labels = torch.full((len(features), longest), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(features), longest), dtype=torch.long)
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            ids[i, :n] = torch.tensor(f["input_ids"])
            labels[i, :n] = torch.tensor(f["labels"])
            mask[i, :n] = 1
        batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
        if self.keep_logits:
            batch["logits_to_keep"] = kept_positions(labels)
        return batch


def causal_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
    """Cross-entropy of next-token predictions on labelled tokens; logits are full-length or the kept positions."""
    import torch

    logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
    if logits.shape[1] == labels.shape[1]:
        targets = labels[:, 1:]
        logits = logits[:, :-1]
    else:
        targets = labels[:, kept_positions(labels) + 1]
    loss = torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
    count = num_items_in_batch if num_items_in_batch is not None else (targets != IGNORE).sum().clamp(min=1)
    return loss / count


HEAD_CHUNK = 512  # labelled positions per LM-head call: bounds the [positions, vocabulary] logits in memory


def labelled_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
    """The loss of `causal_loss` with the LM head run only on the labelled positions of each row (in chunks):
    the decoder body once, then vocabulary-wide logits for the answer tokens alone. A frozen head (LoRA) takes the
    fused path (`head_loss`), a trained one (full fine-tuning) or a soft-capped one the stock fp32 cross-entropy."""
    import torch

    causal = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft: LoRA layers inside
    body = causal.base_model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], use_cache=False)
    hidden = body[0]
    targets = inputs["labels"][:, 1:]
    mask = targets != IGNORE
    picked, wanted = hidden[:, :-1][mask], targets[mask]
    head, cap = causal.get_output_embeddings(), getattr(causal.config, "final_logit_softcapping", None)
    count = num_items_in_batch if num_items_in_batch is not None else mask.sum().clamp(min=1)
    if not head.weight.requires_grad and not cap and getattr(head, "bias", None) is None:
        from llm_trainer.ml.tasks.generation.head_loss import frozen_head_cross_entropy

        return frozen_head_cross_entropy(picked, head.weight, wanted, HEAD_CHUNK) / count
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, picked.shape[0], HEAD_CHUNK):
        logits = head(picked[start : start + HEAD_CHUNK]).float()
        if cap:  # Gemma 2 style soft-capping, as the model's own forward applies it
            logits = torch.tanh(logits / cap) * cap
        total = total + torch.nn.functional.cross_entropy(logits, wanted[start : start + HEAD_CHUNK], reduction="sum")
    return total / count


def _sft_trainer():
    from peft.helpers import disable_input_dtype_casting
    from transformers import Trainer

    class LabelledLossTrainer(Trainer):
        """The HF Trainer whose loss computes logits only at labelled positions (`labelled_loss`). Under mixed
        precision the LoRA layers take their bf16/fp16 input as it is: peft would cast each one to the adapter's
        fp32 for autocast to cast back, copies that took a sixth of a CPU step."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN201
            mixed = self.args.bf16 or self.args.fp16
            with self.accelerator.autocast(), disable_input_dtype_casting(model, active=mixed):
                loss = labelled_loss(self.accelerator.unwrap_model(model), inputs, num_items_in_batch)
            return (loss, {"loss": loss}) if return_outputs else loss

    return LabelledLossTrainer


SAMPLE_TOKENS = 48  # greedy tokens per sample answer: enough to see the style change, cheap on CPU


def sample_callback(tokenizer: Any, conversations: list[list[dict[str, str]]], reporter: Any) -> Any:
    """After every evaluation, greedy answers to fixed validation prompts go into the run's progress (`samples`),
    next to the base model's answers (from the base evaluation, adapter off) and the references."""
    from transformers import TrainerCallback

    from llm_trainer.ml.tasks.generation.predictor import ChatGenerator, ChatRequest

    prompts = [c[:-1] for c in conversations]
    samples = [{"prompt": p[-1]["content"], "reference": c[-1]["content"], "base": None, "answer": None}
               for p, c in zip(prompts, conversations, strict=True)]  # fmt: skip

    class SampleCallback(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):  # noqa: ANN001, ANN201
            if model is None or not samples or not state.is_world_process_zero:
                return control
            generator = ChatGenerator(tokenizer, model, 4096)
            answers = generator.greedy_texts([ChatRequest(p, max_new_tokens=SAMPLE_TOKENS) for p in prompts])
            model.train()
            key = "base" if "base_loss" in (metrics or {}) else "answer"
            for sample, answer in zip(samples, answers, strict=True):
                sample[key] = answer
            reporter.progress({"samples": samples, "samples_step": state.global_step})
            return control

    return SampleCallback()


ANSWER_TOKENS = 96  # greedy tokens per scored validation answer


def answer_evaluation(model: Any, tokenizer: Any, conversations: list, lora: bool, reporter: Any) -> dict[str, Any]:
    """Greedy answers of the fine-tuned (and, for LoRA, the base) model to validation prompts, scored against the
    references (ROUGE-L, BLEU-4), with a table of examples."""
    from llm_trainer.ml.tasks.generation.metrics import SCORERS, answer_scores
    from llm_trainer.ml.tasks.generation.predictor import ChatGenerator, ChatRequest

    reporter.progress({"phase": RunPhase.EVALUATING, "answers": len(conversations)})
    prompts = [c[:-1] for c in conversations]
    references = [c[-1]["content"] for c in conversations]
    generator = ChatGenerator(tokenizer, model, 4096)

    def answers() -> list[str]:
        return generator.greedy_texts([ChatRequest(p, max_new_tokens=ANSWER_TOKENS) for p in prompts])

    tuned = answers()
    base = None
    if lora:
        with model.disable_adapter():
            base = answers()
    table = [{"prompt": p[-1]["content"], "reference": r, "answer": a, "base": b}
             for p, r, a, b in zip(prompts, references, tuned, base or [None] * len(tuned), strict=True)]  # fmt: skip
    return {"scores": answer_scores(tuned, references), "base": answer_scores(base, references) if base else None,
            "examples": table[:20], "scorers": SCORERS, "examples_scored": len(tuned)}  # fmt: skip


def _with_lora(model: Any, cfg: Any) -> Any:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=lora_targets(model, cfg.lora_target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _perplexity(loss: float | None) -> float | None:
    return None if loss is None else round(math.exp(min(loss, 50.0)), 4)


def train_generation_version(data: ChatSplit, job: ModelJob, reporter: Any) -> TrainedVersion:
    import torch
    from transformers import Trainer

    from llm_trainer.ml.modeling import resolve_source_folder
    from llm_trainer.ml.training.data import choose_max_length, model_length_limit, truncation_share
    from llm_trainer.ml.training.trainer import (
        _training_args,
        plan_training,
        resume_point,
        run_callbacks,
        start_process,
    )

    cfg = job.config
    ctx = start_process(cfg)
    reporter.progress({"phase": RunPhase.LOADING_MODEL, "base_model": job.base_model})
    folder = resolve_source_folder(
        job.base_model,
        job.cache_dir,
        lambda info: reporter.progress({"phase": RunPhase.LOADING_MODEL, "loading": info}),
    )
    tokenizer, model = load_causal_lm(folder, job.base_model)
    if cfg.finetuning == "lora":
        model = _with_lora(model, cfg)
    elif cfg.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()

    limit = model_length_limit(tokenizer, model.config)
    probe = encode_many(tokenizer, data.train, limit)
    lengths = [e.full_length for e in probe]
    max_length = choose_max_length(lengths, min(limit, cfg.max_length or DEFAULT_MAX_TOKENS), cfg.max_length)
    train_enc = [Encoded(e.input_ids[:max_length], e.labels[:max_length], e.full_length) for e in probe]
    val_enc = encode_many(tokenizer, data.val, max_length)
    trunc = truncation_share(lengths + [e.full_length for e in val_enc], max_length)
    # Evaluation reads its set in order: sorted by length, its batches carry little padding.
    train_ds, val_ds = _Encodings(train_enc), _Encodings(sorted(val_enc, key=lambda e: len(e.input_ids)))
    if not len(train_ds) or not len(val_ds):
        raise InvalidInput(
            f"No answer token is left within max_length {max_length} in the training or validation part; raise "
            "max_length or shorten the prompts.",
            code="answers_truncated",
        )

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    effective_batch, total_steps, _ = plan_training(
        reporter, model, cfg, ctx, len(train_ds), max_length, truncation_share=round(trunc, 4),
        train_size=len(train_ds), val_size=len(val_ds), trained_tokens=sum(e.trained_tokens for e in train_enc),
        trainable_parameters=trainable,
    )  # fmt: skip

    args = _training_args(job, ctx.device, ctx.precision, ctx.world, total_steps)  # type: ignore[arg-type]
    args.metric_for_best_model = "loss"
    args.greater_is_better = False
    args.prediction_loss_only = True  # the eval loop keeps no vocabulary-wide logits
    args.label_names = ["labels"]
    args.remove_unused_columns = False
    callbacks = run_callbacks(job, reporter, effective_batch, ctx.is_main)
    if cfg.sample_prompts:
        callbacks.append(sample_callback(tokenizer, data.val[: cfg.sample_prompts], reporter))
    multiple = 8 if ctx.device == "cuda" else None
    # One process: the LM head runs on each row's labelled positions only. Data-parallel runs keep the model's own
    # forward (DDP syncs gradients through it) and ask it for the batch's labelled positions (`logits_to_keep`).
    exact = cfg.logits_on_labels_only and ctx.world == 1
    trainer = (_sft_trainer() if exact else Trainer)(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tokenizer,
        data_collator=ChatCollator(
            tokenizer.pad_token_id, keep_logits=cfg.logits_on_labels_only and not exact, multiple=multiple
        ),
        compute_loss_func=None if exact else causal_loss,
        callbacks=callbacks,
    )
    baseline = None
    if cfg.finetuning == "lora":  # on resume too: with the adapter off this is the base model
        reporter.progress({"phase": RunPhase.EVALUATING, "baseline": True})
        with model.disable_adapter():
            base_loss = trainer.evaluate(metric_key_prefix="base")["base_loss"]
        baseline = {"loss": round(base_loss, 6), "perplexity": _perplexity(base_loss)}
    checkpoint, resumed_from = resume_point(job, reporter)
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_seconds = time.monotonic() - started
    stopped = callbacks[0].stopped_at is not None
    if not ctx.is_main:
        return TrainedVersion(kind="lora", labels=[], metrics={}, write_files=lambda _: None, is_main=False)

    reporter.progress({"phase": RunPhase.EVALUATING})
    val_loss = trainer.evaluate()["eval_loss"]
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    tokens = sum(e.trained_tokens for e in train_enc) * cfg.epochs
    seen = sum(len(item["input_ids"]) for item in train_ds.items) * cfg.epochs
    metrics = {
        "loss": round(val_loss, 6),
        "perplexity": _perplexity(val_loss),
        "baseline": baseline,
        "max_length": max_length,
        "truncation_share": round(trunc, 4),
        "global_step": trainer.state.global_step,
        "resumed_from_step": resumed_from,
        "precision": ctx.precision,
        "train_seconds": round(train_seconds, 1),
        "trained_tokens_per_s": round(tokens / train_seconds, 1) if train_seconds else None,  # answer tokens
        "tokens_per_s": round(seen / train_seconds, 1) if train_seconds else None,  # prompt + answer tokens
        "trainable_parameters": trainable,
        "finetuning": cfg.finetuning,
    }
    if cfg.eval_answers:
        scored = answer_evaluation(model, tokenizer, data.val[: cfg.eval_answers], cfg.finetuning == "lora", reporter)
        metrics.update(scored["scores"])
        if baseline is not None and scored["base"]:
            baseline.update(scored["base"])
        metrics["answers"] = {k: scored[k] for k in ("examples", "scorers", "examples_scored")}
    kind = "lora" if cfg.finetuning == "lora" else "transformer"
    extra = {"generation": {"base_folder": str(Path(folder).resolve()), "finetuning": cfg.finetuning}}

    def write_files(out: Path) -> None:
        with torch.no_grad():
            model.save_pretrained(out)  # LoRA: the adapter only (adapter_config.json names the base folder)
        tokenizer.save_pretrained(out)  # with the chat template used here: serving renders prompts with it

    return TrainedVersion(
        kind=kind,
        labels=[],
        metrics=metrics,
        write_files=write_files,
        max_length=max_length,
        device=ctx.device,
        stopped=stopped,
        manifest_extra=extra,
    )
