"""Fine-tune a token classifier for NER with the HF Trainer: offset-aligned BIO labels, windows, live progress, stop.

Shares the classification trainer's device/precision choice, progress callback (graceful stop) and training
arguments; the best checkpoint is chosen by entity micro-F1 on the validation windows. The version's metrics are
measured afterwards in fp32 through the same `TokenTagger` that serves it, so reported and served answers agree.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.core.run_status import RunPhase
from llm_trainer.ml.tasks.ner.alignment import char_probs, decode, encode_windows, label_windows
from llm_trainer.ml.tasks.ner.ensemble import attach_crf_ensemble
from llm_trainer.ml.tasks.ner.spec import NerSplit
from llm_trainer.ml.tasks.ner.tags import bio_labels
from llm_trainer.ml.tasks.spec import ModelJob, TrainedVersion
from llm_trainer.ml.training.encoder_trainer import encoder_trainer_class

log = logging.getLogger("llm_trainer.worker")
DEFAULT_MAX_TOKENS = 128  # a window; longer texts get several (CLUENER texts are < 50 characters)


def load_base_for_tokens(
    source: str, labels: list[str], cache_dir: Path, progress: Any = None, train_texts: list[str] | None = None
) -> tuple[Any, Any]:
    """(fast tokenizer, token-classification model with a fresh head for `labels`) for a hub/local/embedded source."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from llm_trainer.ml.base_models.sources import parse_source
    from llm_trainer.ml.base_models.vocab import trim_vocabulary
    from llm_trainer.ml.modeling import resolve_source_folder

    folder = resolve_source_folder(source, cache_dir, progress)
    id2label = dict(enumerate(labels))
    head = {"num_labels": len(labels), "id2label": id2label, "label2id": {v: k for k, v in id2label.items()}}
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if not tokenizer.is_fast:
        from llm_trainer.core.errors import InvalidInput

        raise InvalidInput(
            f"{source} has no fast tokenizer (tokenizer.json); NER needs its character offsets. Choose another model.",
            code="no_fast_tokenizer",
        )
    model = AutoModelForTokenClassification.from_pretrained(
        folder, **head, ignore_mismatched_sizes=True, trust_remote_code=False
    )
    if parse_source(source).kind == "embedded" and train_texts is not None:
        tokenizer, model = trim_vocabulary(tokenizer, model, train_texts)
    model.config.base_model_source = parse_source(source).source
    return tokenizer, model


class _WindowDataset:
    def __init__(self, windows: list) -> None:
        self.items = [
            {"input_ids": w.input_ids, "attention_mask": w.attention_mask, "labels": w.labels} for w in windows
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def _window_metrics(windows: list, texts: list[str], spans: list, id2label: list[str], types: list[str]):
    """compute_metrics for the Trainer: eval logits (validation windows in order) -> entity micro/macro-F1."""
    from llm_trainer.ml.tasks.ner.metrics import entity_scores
    from llm_trainer.ml.tasks.ner.predictor import softmax

    def compute(eval_pred: Any) -> dict[str, float]:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        probs = [softmax(np.asarray(logits[i][: len(w.input_ids)], dtype=np.float64)) for i, w in enumerate(windows)]
        decoded = decode(len(texts), windows, probs, id2label)
        scores = entity_scores(texts, spans, [s for s, _ in decoded], types)
        return {k: scores[k] for k in ("micro_f1", "macro_f1", "micro_precision", "micro_recall")}

    return compute


def _budget_sample(tokenizer: Any, windows: list, batch_size: int) -> tuple[dict[str, Any], list[int]]:
    """The time budget's sample: the longest `batch_size` windows, collated as training collates them."""
    from transformers import DataCollatorForTokenClassification

    longest = sorted(windows, key=lambda w: -len(w.input_ids))[:batch_size]
    batch = DataCollatorForTokenClassification(tokenizer)(
        [{"input_ids": w.input_ids, "attention_mask": w.attention_mask, "labels": w.labels} for w in longest]
    )
    return dict(batch), [int(batch["input_ids"].shape[1])]


def train_ner_version(data: NerSplit, job: ModelJob, reporter: Any) -> TrainedVersion:
    from transformers import DataCollatorForTokenClassification, set_seed

    from llm_trainer.ml.tasks.ner.metrics import evaluate
    from llm_trainer.ml.tasks.ner.predictor import TokenTagger
    from llm_trainer.ml.training.data import model_length_limit
    from llm_trainer.ml.training.trainer import (
        _training_args,
        budget_applies,
        last_checkpoint,
        plan_budget,
        preflight_memory,
        run_callbacks,
        save_model_folder,
        start_process,
    )

    cfg = job.config
    ctx = start_process(cfg)
    world, is_main, device, precision = ctx.world, ctx.is_main, ctx.device, ctx.precision

    id2label = bio_labels(data.labels)
    label2id = {name: i for i, name in enumerate(id2label)}
    reporter.progress({"phase": RunPhase.LOADING_MODEL, "base_model": job.base_model})
    tokenizer, model = load_base_for_tokens(
        job.base_model,
        id2label,
        job.cache_dir,
        progress=lambda info: reporter.progress({"phase": RunPhase.LOADING_MODEL, "loading": info}),
        train_texts=data.train_texts,
    )
    if cfg.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
    max_length = min(cfg.max_length or DEFAULT_MAX_TOKENS, model_length_limit(tokenizer, model.config))
    train_windows = encode_windows(tokenizer, data.train_texts, max_length)
    val_windows = encode_windows(tokenizer, data.val_texts, max_length)
    cut = label_windows(train_windows, data.train_spans, data.train_texts, label2id)
    cut += label_windows(val_windows, data.val_spans, data.val_texts, label2id)
    entities = sum(len(s) for s in data.train_spans) + sum(len(s) for s in data.val_spans)
    windowed = len(train_windows) - len(data.train_texts) + len(val_windows) - len(data.val_texts)
    train_ds, val_ds = _WindowDataset(train_windows), _WindowDataset(val_windows)
    budget = None
    if budget_applies(job, ctx, reporter):
        budget = plan_budget(
            job, model, *_budget_sample(tokenizer, train_windows, cfg.batch_size),
            ([len(w.input_ids) for w in train_windows], [len(w.input_ids) for w in val_windows]),
            max_length, ctx, reporter, length_fixed=True,
        )  # fmt: skip
        cfg = cfg.model_copy(update={"epochs": budget.epochs})
        job = replace(job, config=cfg)
        set_seed(cfg.seed)  # the timed steps used dropout: training starts from the same random state as without

    needed, warnings = preflight_memory(model, cfg.batch_size, max_length, precision, device)
    if cut:
        warnings.append(
            f"{cut} of {entities} entities start or end inside a token of this tokenizer; their "
            "predicted spans can only land on token boundaries"
        )
    for w in warnings:
        reporter.info("WARNING: " + w)
    effective_batch = cfg.batch_size * cfg.gradient_accumulation_steps * world
    total_steps = max(1, int(max(1, -(-len(train_ds) // effective_batch)) * cfg.epochs))
    reporter.progress(
        {
            "phase": RunPhase.TRAINING,
            "step": 0,
            "total_steps": total_steps,
            "max_length": max_length,
            "train_size": len(data.train_texts),
            "val_size": len(data.val_texts),
            "windows": len(train_ds),
            "device": device,
            "precision": precision,
            "memory_estimate_mb": round(needed / 2**20),
            "warnings": warnings,
        }
    )

    args = _training_args(job, device, precision, world, total_steps)  # type: ignore[arg-type]
    args.metric_for_best_model = "micro_f1"
    callbacks = run_callbacks(job, reporter, effective_batch, is_main)
    trainer = encoder_trainer_class(cfg.head_learning_rate)(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8 if device == "cuda" else None),
        compute_metrics=_window_metrics(val_windows, data.val_texts, data.val_spans, id2label, data.labels),
        callbacks=callbacks,
    )
    checkpoint = last_checkpoint(job.work_dir) if job.resume else None
    resumed_from = int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else 0
    if checkpoint:
        reporter.info(f"resuming from {checkpoint.name} (global step {resumed_from})")
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_seconds = time.monotonic() - started
    stopped = callbacks[0].stopped_at is not None
    if not is_main:
        return TrainedVersion(
            kind="transformer", labels=data.labels, metrics={}, write_files=lambda _: None, is_main=False
        )

    reporter.progress({"phase": RunPhase.EVALUATING})
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False).float()
    tagger = TokenTagger(tokenizer, model, max_length)
    windows, probs = tagger.token_probs(data.val_texts)
    tagged = decode(len(data.val_texts), windows, probs, id2label)
    if budget:
        budget.actual_s = round(time.monotonic() - started, 1)
        reporter.progress({"time_budget": budget.model_dump(mode="json")})
    metrics = evaluate(data.val_texts, data.val_spans, [s for s, _ in tagged], data.labels, [sc for _, sc in tagged])
    reporter.progress({"phase": RunPhase.BASELINE})
    crf = _fit_crf(data)
    metrics["baseline"] = _crf_summary(data, crf)
    metrics.update(
        {
            "max_length": max_length,
            "windows_extra": windowed,
            "misaligned_entities": cut,
            "truncation_share": 0.0,
            "global_step": trainer.state.global_step,
            "resumed_from_step": resumed_from,
            "precision": precision,
            "train_seconds": round(train_seconds, 1),
            "time_budget": budget.model_dump(mode="json") if budget else None,
        }
    )

    def write_files(folder: Path) -> None:
        save_model_folder(model, tokenizer, folder)

    trained = TrainedVersion(
        kind="transformer",
        labels=data.labels,
        metrics=metrics,
        write_files=write_files,
        max_length=max_length,
        device=device,
        stopped=stopped,
        fast_serving=cfg.fast_serving and not stopped,  # the export job compares the copy with PyTorch's tagger
    )
    chars = char_probs(data.val_texts, windows, probs, id2label)
    return attach_crf_ensemble(trained, data.val_texts, data.val_spans, data.labels, chars, id2label, crf)


def _fit_crf(data: NerSplit) -> Path | None:
    """The CRF baseline fitted on the training part, in a scratch folder its users remove; None when it fails (a
    comparison: its failure never fails the run)."""
    import tempfile

    from llm_trainer.ml.tasks.ner.crf import fit_crf

    scratch = Path(tempfile.mkdtemp(prefix="ner-crf-"))
    try:
        return fit_crf(data.train_texts, data.train_spans, scratch)
    except Exception as exc:  # noqa: BLE001
        log.warning("CRF baseline unavailable: %s", exc)
        shutil.rmtree(scratch, ignore_errors=True)
        return None


def _crf_summary(data: NerSplit, crf_file: Path | None) -> dict[str, Any] | None:
    """The CRF baseline's scores on the validation part."""
    from llm_trainer.ml.tasks.ner.crf import CrfTagger
    from llm_trainer.ml.tasks.ner.metrics import entity_scores

    if crf_file is None:
        return None
    try:
        tagger = CrfTagger.open(crf_file)
        pred = [tagger.tag(t)[0] for t in data.val_texts]
    except Exception as exc:  # noqa: BLE001 - a comparison never fails the run
        log.warning("CRF baseline unavailable: %s", exc)
        return None
    scores = entity_scores(data.val_texts, data.val_spans, pred, data.labels)
    keys = ("micro_f1", "macro_f1", "weighted_f1", "micro_precision", "micro_recall", "accuracy")
    return {k: scores[k] for k in keys}
