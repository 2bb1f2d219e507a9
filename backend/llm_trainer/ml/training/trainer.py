"""Fine-tune a sequence classifier with the HF `Trainer`: dynamic padding, length grouping, progress, graceful stop."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from llm_trainer.core.run_status import RunPhase
from llm_trainer.ml.inference.windows import combine_for, pad_windows, windowed_logits
from llm_trainer.ml.training.budget import (
    BudgetPlan,
    StepCost,
    budget_shapes,
    choose_plan,
    describe,
    measure_steps,
)
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.training.data import (
    HEAD_TAIL_ENOUGH,
    WHOLE_TEXT_CPU_CAP,
    EncodedDataset,
    Split,
    choose_max_length,
    class_weights,
    model_length_limit,
    token_lengths,
    truncation_share,
)
from llm_trainer.ml.training.encoder_trainer import encoder_trainer_class
from llm_trainer.ml.training.evaluation import sigmoid, softmax
from llm_trainer.ml.training.tracking import trainer_callbacks

CHECKPOINTS = "checkpoints"
BUDGET_PLAN = "time_budget.json"  # in the run folder: a resumed run keeps the plan its checkpoints were trained under
TENSORBOARD_DIR = "tensorboard"  # per run: `tensorboard --logdir <data dir>/runs` shows every run


class Reporter(Protocol):
    """Where the trainer sends live progress and asks whether to stop (the worker backs it with the DB)."""

    def progress(self, snapshot: dict[str, Any]) -> None: ...

    def metric(self, kind: str, step: int, epoch: float, values: dict[str, Any]) -> None: ...

    def stop_requested(self) -> bool: ...

    def info(self, message: str) -> None: ...


@dataclass
class TrainJob:
    base_model: str
    config: TrainingConfig
    split: Split
    work_dir: Path
    cache_dir: Path
    resume: bool = False
    # "multi_label_classification": `split` labels are label lists; sigmoid head, BCE loss, multi-hot targets.
    problem_type: str = "single_label_classification"
    mlflow: bool = False  # an MLflow run is active (ml/training/tracking.py)

    @property
    def multi_label(self) -> bool:
        return self.problem_type == "multi_label_classification"


@dataclass
class TrainOutcome:
    model: Any
    tokenizer: Any
    is_main: bool
    stopped: bool
    global_step: int
    max_length: int
    truncation_share: float
    device: str
    precision: str
    val_probs: np.ndarray
    train_seconds: float
    resumed_from_step: int = 0
    warnings: list[str] = field(default_factory=list)
    time_budget: BudgetPlan | None = None

    def run_facts(self) -> dict[str, Any]:
        """What a version's metrics record about how it was trained (length, steps, precision, time, budget plan)."""
        return {
            "max_length": self.max_length,
            "truncation_share": round(self.truncation_share, 4),
            "global_step": self.global_step,
            "resumed_from_step": self.resumed_from_step,
            "precision": self.precision,
            "train_seconds": round(self.train_seconds, 1),
            "time_budget": self.time_budget.model_dump(mode="json") if self.time_budget else None,
        }


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 or AMX), where autocast pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_device(choice: str) -> str:
    """Turn auto|cpu|cuda|mps into an available device type, or explain why the choice cannot be honoured."""
    import torch

    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was chosen but no CUDA GPU is visible; choose cpu or auto")
    if choice == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device mps was chosen but Apple MPS is not available; choose cpu or auto")
    return choice


def resolve_precision(choice: str, device: str) -> str:
    """auto -> bf16 where the hardware has it (fp16 on older GPUs), else fp32."""
    import torch

    if choice != "auto":
        return choice
    if device == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device == "cpu":
        return "bf16" if cpu_supports_bf16() else "fp32"
    return "fp32"


def cpu_threads(world_size: int) -> int:
    """Cores this process may use, shared evenly between the data-parallel processes on this machine."""
    world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))  # torchrun: processes of this node only
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, world_size))


def estimate_memory_bytes(model: Any, batch_size: int, max_length: int, precision: str) -> int:
    """Rough peak training memory: weights + gradients + AdamW state of trainable params + activations."""
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    cfg = model.config
    hidden = getattr(cfg, "hidden_size", 768)
    layers = getattr(cfg, "num_hidden_layers", 12)
    inter = getattr(cfg, "intermediate_size", 4 * hidden)
    heads = getattr(cfg, "num_attention_heads", 12)
    act_bytes = 2 if precision in ("bf16", "fp16") else 4
    per_token_layer = (12 * hidden + 2 * inter + 2 * heads * max_length) * act_bytes
    activations = batch_size * max_length * layers * per_token_layer
    return total * 4 + trainable * 12 + activations


def available_memory_bytes(device: str) -> int | None:
    """Free memory on the training device (RAM for CPU/MPS)."""
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    import psutil

    return int(psutil.virtual_memory().available)


def preflight_memory(model: Any, batch_size: int, max_length: int, precision: str, device: str) -> tuple[int, list]:
    """(estimated bytes, warnings): warn before training when the estimate nears the device's free memory."""
    needed = estimate_memory_bytes(model, batch_size, max_length, precision)
    free = available_memory_bytes(device)
    if free is not None and needed > 0.9 * free:
        return needed, [
            f"estimated memory {needed / 2**30:.1f} GiB exceeds ~90% of the free {free / 2**30:.1f} GiB on {device}: "
            "lower batch_size or max_length if the run fails"
        ]
    return needed, []


@dataclass
class RunContext:
    """Where this process trains: data-parallel world, rank, device and precision (threads and seed are set)."""

    world: int
    is_main: bool
    device: str
    precision: str


def start_process(cfg: TrainingConfig) -> RunContext:
    """Resolve device and precision, share the CPU cores between ranks and seed everything: every task's first step."""
    import torch
    from transformers import set_seed

    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(cfg.device)
    if device == "cpu":
        torch.set_num_threads(cpu_threads(world))
    set_seed(cfg.seed)
    return RunContext(world, int(os.environ.get("RANK", "0")) == 0, device, resolve_precision(cfg.precision, device))


def resume_point(job: Any, reporter: Reporter) -> tuple[Path | None, int]:
    """(checkpoint to resume from, its global step) of a resumed run; (None, 0) for a fresh one."""
    checkpoint = last_checkpoint(job.work_dir) if job.resume else None
    resumed_from = int(checkpoint.name.rsplit("-", 1)[-1]) if checkpoint else 0
    if checkpoint:
        reporter.info(f"resuming from {checkpoint.name} (global step {resumed_from})")
    elif job.resume:
        reporter.info("no checkpoint found: training starts from the beginning")
    return checkpoint, resumed_from


def plan_training(
    reporter: Reporter, model: Any, cfg: TrainingConfig, ctx: RunContext, n_items: int, max_length: int, **facts: Any
) -> tuple[int, int, list[str]]:
    """(effective batch, total steps, memory warnings): the memory pre-flight and the run's first progress report
    (`facts` adds what the task knows: truncation share, split sizes...)."""
    needed, warnings = preflight_memory(model, cfg.batch_size, max_length, ctx.precision, ctx.device)
    for w in warnings:
        reporter.info("WARNING: " + w)
    effective_batch = cfg.batch_size * cfg.gradient_accumulation_steps * ctx.world
    total_steps = max(1, int(max(1, -(-n_items // effective_batch)) * cfg.epochs))
    reporter.progress(
        {
            "phase": RunPhase.TRAINING,
            "step": 0,
            "total_steps": total_steps,
            "max_length": max_length,
            **facts,
            "device": ctx.device,
            "precision": ctx.precision,
            "memory_estimate_mb": round(needed / 2**20),
            "warnings": warnings,
        }
    )
    return effective_batch, total_steps, warnings


def _stop_agreed(local: bool) -> bool:
    """In data-parallel runs every process must stop at the same step: rank 0's decision is shared."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return local
    flag = torch.tensor([1 if local else 0], dtype=torch.int32)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def _make_callback(reporter: Reporter, effective_batch: int):
    """A TrainerCallback that reports progress/metrics and turns a stop request into stop + evaluate + save."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.monotonic()
            self.start_step = 0
            self.stopped_at: int | None = None
            self.last: dict[str, Any] = {}

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()
            self.start_step = state.global_step

        def on_step_end(self, args, state, control, **kwargs):
            elapsed = time.monotonic() - self.start
            done = state.global_step - self.start_step
            per_step = elapsed / done if done else 0.0
            reporter.progress(
                {
                    "phase": RunPhase.TRAINING,
                    "step": state.global_step,
                    "total_steps": state.max_steps,
                    "epoch": round(state.epoch or 0.0, 4),
                    "loss": self.last.get("loss"),
                    "learning_rate": self.last.get("learning_rate"),
                    "samples_per_s": round(done * effective_batch / elapsed, 2) if elapsed else None,
                    "elapsed_s": round(elapsed, 1),
                    "eta_s": round(per_step * (state.max_steps - state.global_step), 1),
                }
            )
            if control.should_evaluate or control.should_save:  # silent work follows: the slow heartbeat limit
                reporter.progress({"phase": RunPhase.EVALUATING})
            if _stop_agreed(reporter.stop_requested()):
                self.stopped_at = state.global_step
                # Acknowledged at a step boundary: the scheduler's stop timeout no longer applies (eval + save follow).
                reporter.progress({"phase": RunPhase.EVALUATING, "stop_acknowledged": True})
                control.should_training_stop = True
                control.should_evaluate = True
                control.should_save = True
            return control

        def on_prediction_step(self, args, state, control, **kwargs):
            reporter.progress({})  # a long evaluation is the loop at work: it keeps the job's heartbeat going

        def on_epoch_end(self, args, state, control, **kwargs):
            if self.stopped_at == state.global_step:  # already evaluated and saved at the stop step
                control.should_evaluate = False
                control.should_save = False
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            epoch = float(state.epoch or 0.0)
            if "loss" in logs:
                self.last = {k: logs[k] for k in ("loss", "learning_rate", "grad_norm") if k in logs}
                reporter.metric("train", state.global_step, epoch, self.last)
            elif "eval_loss" in logs:
                values = {k.removeprefix("eval_"): v for k, v in logs.items() if k.startswith("eval_")}
                reporter.metric("eval", state.global_step, epoch, values)

    return ProgressCallback()


def _eval_metrics(eval_pred: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    logits, labels = eval_pred.predictions, eval_pred.label_ids
    logits = logits[0] if isinstance(logits, tuple) else logits
    pred = np.asarray(logits).argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, average="macro", zero_division=0)),
    }


def _multi_label_eval_metrics(eval_pred: Any) -> dict[str, float]:
    """Per-epoch curve for multi-label runs at the 0.5 threshold (versions get tuned thresholds afterwards)."""
    from sklearn.metrics import f1_score

    logits, labels = eval_pred.predictions, eval_pred.label_ids
    logits = logits[0] if isinstance(logits, tuple) else logits
    pred = (np.asarray(logits) > 0).astype(int)
    truth = np.asarray(labels).astype(int)
    return {
        "accuracy": float((pred == truth).all(axis=1).mean()),  # subset accuracy
        "micro_f1": float(f1_score(truth, pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)),
    }


def _bce_loss(outputs, labels, num_items_in_batch=None):
    """Sigmoid + binary cross-entropy per label (the head of multi-label runs), averaged over labels and texts."""
    import torch

    logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
    return torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())


def start_at_label_priors(model: Any, label_sets: Any, labels: list[str]) -> None:
    """Start a fresh sigmoid head at each label's training frequency (bias = its logit) instead of p = 0.5.

    Most labels are absent from most texts; from zero biases a fine-tuning learning rate needs thousands of steps to
    get there, which a short CPU run never takes (1,600 car reviews, 10 aspects, 2 epochs: BCE stuck at 0.46 and the
    tuned thresholds passed every label, micro-F1 0.21). A head that is not fresh (any non-zero bias) is left alone."""
    import torch

    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == len(labels)]
    if not heads or heads[-1].bias is None or bool(torch.count_nonzero(heads[-1].bias)):
        return
    index = {name: i for i, name in enumerate(labels)}
    counts = np.zeros(len(labels))
    for names in label_sets:
        for name in set(names):
            counts[index[name]] += 1
    prior = np.clip((counts + 0.5) / (len(label_sets) + 1.0), 1e-3, 1 - 1e-3)  # smoothed: never exactly 0 or 1
    with torch.no_grad():
        heads[-1].bias.copy_(torch.as_tensor(np.log(prior / (1 - prior)), dtype=heads[-1].bias.dtype))


def _weighted_loss(weights: list[float]):
    """Class-weighted cross-entropy for Trainer(compute_loss_func=...), normalised by the items in the batch."""
    import torch

    weight = torch.tensor(weights, dtype=torch.float32)

    def loss_fn(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        w = weight.to(logits.device)
        if num_items_in_batch:
            loss = torch.nn.functional.cross_entropy(logits.float(), labels, weight=w, reduction="sum")
            return loss / num_items_in_batch
        return torch.nn.functional.cross_entropy(logits.float(), labels, weight=w)

    return loss_fn


def last_checkpoint(work_dir: Path) -> Path | None:
    """The newest resumable checkpoint of a run, if any."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = work_dir / CHECKPOINTS
    found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
    return Path(found) if found else None


def _prepare_model(job: TrainJob, reporter: Reporter) -> tuple[Any, Any]:
    from llm_trainer.ml.modeling import load_base_for_training

    reporter.progress({"phase": RunPhase.LOADING_MODEL, "base_model": job.base_model})
    tokenizer, model = load_base_for_training(
        job.base_model,
        job.split.labels,
        job.cache_dir,
        progress=lambda info: reporter.progress({"phase": RunPhase.LOADING_MODEL, "loading": info}),
        train_texts=job.split.train_texts,  # the embedded model's vocabulary is trimmed to what the data needs
    )
    if job.config.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
    return tokenizer, model


def _training_args(job: TrainJob, device: str, precision: str, world: int, total_steps: int) -> Any:
    """HF TrainingArguments from our config: length-grouped batches, checkpoints under the run dir, no tqdm/hub."""
    from transformers import TrainingArguments

    cfg = job.config
    return TrainingArguments(
        output_dir=str(job.work_dir / CHECKPOINTS),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size * 2,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        warmup_steps=int(cfg.warmup_ratio * total_steps),
        weight_decay=cfg.weight_decay,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        eval_strategy=cfg.eval_strategy,
        eval_steps=cfg.eval_steps,
        save_strategy=cfg.save_strategy,
        save_steps=cfg.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=cfg.save_strategy == cfg.eval_strategy,  # keep the best checkpoint
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        seed=cfg.seed,
        use_cpu=device == "cpu",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        train_sampling_strategy="group_by_length",
        logging_strategy="steps",
        logging_steps=max(1, total_steps // 300),
        logging_first_step=True,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        ddp_backend="gloo" if device == "cpu" and world > 1 else None,
        ddp_find_unused_parameters=False if world > 1 else None,
    )


def run_callbacks(job: Any, reporter: Reporter, effective_batch: int, is_main: bool) -> list[Any]:
    """Live progress (first: callers read its stop flag), TensorBoard event files of the main rank under
    `<run folder>/tensorboard` (loss, learning rate, eval metrics), MLflow if tracked, early stopping if set."""
    from torch.utils.tensorboard import SummaryWriter
    from transformers import EarlyStoppingCallback
    from transformers.integrations import TensorBoardCallback

    callbacks: list[Any] = [_make_callback(reporter, effective_batch)]
    if is_main:
        callbacks.append(TensorBoardCallback(SummaryWriter(log_dir=str(job.work_dir / TENSORBOARD_DIR))))
    callbacks += trainer_callbacks(is_main and job.mlflow)
    if job.config.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=job.config.early_stopping_patience))
    return callbacks


def time_budget(
    job: TrainJob,
    model: Any,
    tokenizer: Any,
    target: Any,
    lengths: tuple[list[int], list[int]],
    max_length: int,
    ctx: RunContext,
    reporter: Reporter,
) -> BudgetPlan | None:
    """The text tasks' time budget: its sample batch is the longest texts of the split, padded to `max_length`."""
    import torch

    if not budget_applies(job, ctx, reporter):
        return None
    train_lengths = lengths[0]
    longest = sorted(range(len(train_lengths)), key=lambda i: -train_lengths[i])[: job.config.batch_size]
    batch = dict(
        tokenizer(
            [job.split.train_texts[i] for i in longest], truncation=True, max_length=max_length,
            padding="max_length", return_tensors="pt",
        )
    )  # fmt: skip
    batch["labels"] = torch.tensor([target(job.split.train_labels[i]) for i in longest])
    shapes = [max_length] + budget_shapes(max_length)
    return plan_budget(job, model, batch, shapes, lengths, max_length, ctx, reporter, job.config.max_length is not None)


def budget_applies(job: Any, ctx: RunContext, reporter: Reporter) -> bool:
    """A budget plans single-process CPU runs with time_budget_minutes set."""
    if not job.config.time_budget_minutes or ctx.device != "cpu":
        return False
    if ctx.world > 1:
        reporter.info("time budget not applied: it plans single-process CPU runs (num_processes is above 1)")
        return False
    return True


def plan_budget(
    job: Any,
    model: Any,
    batch: dict[str, Any],
    shapes: list[int],
    lengths: tuple[list[int], list[int]],
    max_length: int,
    ctx: RunContext,
    reporter: Reporter,
    length_fixed: bool,
) -> BudgetPlan:
    """Time real steps of `batch` (cut to each of `shapes`), then choose the recipe that fits (ml/training/budget.py).
    A resumed run keeps the plan its checkpoints were trained under."""
    import contextlib

    import torch

    cfg = job.config
    saved = job.work_dir / BUDGET_PLAN
    if job.resume and saved.is_file():
        plan = BudgetPlan.model_validate_json(saved.read_text(encoding="utf-8"))
        reporter.info("time budget: the resumed run keeps its plan: " + plan.message)
        return plan
    reporter.progress({"phase": RunPhase.MEASURING})
    started = time.monotonic()
    train_lengths, val_lengths = lengths
    dtype = torch.bfloat16 if ctx.precision == "bf16" else None

    def autocast() -> Any:
        return torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext()

    cost = StepCost.fit(measure_steps(model, batch, shapes, autocast))
    steps_per_epoch = max(1, -(-len(train_lengths) // (cfg.batch_size * cfg.gradient_accumulation_steps)))
    plan = choose_plan(
        cost, train_lengths, val_lengths, budget_s=cfg.time_budget_minutes * 60, max_length=max_length,
        epochs=cfg.epochs, batch_size=cfg.batch_size, length_fixed=length_fixed,
        evaluations_per_epoch=1.0 if cfg.eval_strategy == "epoch" else steps_per_epoch / cfg.eval_steps,
    )  # fmt: skip
    plan.measure_s = round(time.monotonic() - started, 1)
    plan.message = describe(plan)
    reporter.info(plan.message)
    reporter.progress({"time_budget": plan.model_dump(mode="json")})
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(plan.model_dump_json(), encoding="utf-8")
    return plan


def train_transformer(job: TrainJob, reporter: Reporter) -> TrainOutcome:
    """Train `job.base_model` on `job.split` and return the (best) model with validation probabilities."""
    from transformers import DataCollatorWithPadding, set_seed

    cfg = job.config
    ctx = start_process(cfg)
    world, is_main, device, precision = ctx.world, ctx.is_main, ctx.device, ctx.precision

    tokenizer, model = _prepare_model(job, reporter)
    label2id = {name: i for i, name in enumerate(job.split.labels)}
    if job.multi_label:
        model.config.problem_type = job.problem_type  # saved with the version: serving applies a sigmoid
        start_at_label_priors(model, job.split.train_labels, job.split.labels)

        def target(y: Any) -> Any:
            hot = [0.0] * len(label2id)
            for name in y:
                hot[label2id[name]] = 1.0
            return hot
    else:

        def target(y: Any) -> Any:
            return label2id[y]

    limit = model_length_limit(tokenizer, model.config)
    train_lengths = token_lengths(tokenizer, job.split.train_texts)
    val_lengths = token_lengths(tokenizer, job.split.val_texts)
    auto_cap = HEAD_TAIL_ENOUGH if device == "cpu" and cfg.truncation == "head_tail" else None
    coverage = 0.95
    if job.multi_label:  # a label can rest on any sentence: read whole texts (the TF-IDF baseline reads them too)
        coverage = 1.0
        auto_cap = WHOLE_TEXT_CPU_CAP if device == "cpu" else None  # above head_tail's cap: the middle counts too
    max_length = choose_max_length(train_lengths, limit, cfg.max_length, auto_cap, coverage)
    budget = time_budget(job, model, tokenizer, target, (train_lengths, val_lengths), max_length, ctx, reporter)
    if budget:
        max_length = budget.max_length
        cfg = cfg.model_copy(update={"epochs": budget.epochs})
        job = replace(job, config=cfg)
        set_seed(cfg.seed)  # the timed steps used dropout: training starts from the same random state as without
    all_lengths = train_lengths + val_lengths
    trunc = truncation_share(all_lengths, max_length)
    train_ds = EncodedDataset(
        tokenizer, job.split.train_texts, [target(x) for x in job.split.train_labels], max_length, cfg.truncation
    )
    val_ds = EncodedDataset(
        tokenizer, job.split.val_texts, [target(x) for x in job.split.val_labels], max_length, cfg.truncation
    )

    effective_batch, total_steps, warnings = plan_training(
        reporter, model, cfg, ctx, len(train_ds), max_length,
        truncation_share=round(trunc, 4), train_size=len(train_ds), val_size=len(val_ds),
    )  # fmt: skip

    args = _training_args(job, device, precision, world, total_steps)
    callbacks = run_callbacks(job, reporter, effective_batch, is_main)
    weighted = cfg.class_weighting == "auto" and not job.multi_label
    weights = class_weights(train_ds.label_ids, len(label2id)) if weighted else None
    loss_func = _bce_loss if job.multi_label else (_weighted_loss(weights) if weights else None)
    trainer = encoder_trainer_class(cfg.head_learning_rate)(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if device == "cuda" else None),
        compute_metrics=_multi_label_eval_metrics if job.multi_label else _eval_metrics,
        compute_loss_func=loss_func,
        callbacks=callbacks,
    )
    checkpoint, resumed_from = resume_point(job, reporter)
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    train_seconds = time.monotonic() - started

    reporter.progress({"phase": RunPhase.EVALUATING})
    # keep_fp32_wrapper=False drops the autocast that mixed precision wrapped around forward(): without it these
    # "fp32" probabilities were bf16 ones (4e-4 apart from the served model on a tiny run, 1e-8 once removed).
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    # The version's metrics are measured in fp32, as it is served; the per-epoch curve used the training precision.
    probs = np.zeros((0, 0))
    if is_main:
        probs = predict_probs(model, tokenizer, val_ds, cfg.batch_size * 2, "fp32")
        probs = rescore_long_as_served(model, tokenizer, job.split.val_texts, val_lengths, max_length, probs)
    if budget:
        budget.actual_s = round(time.monotonic() - started, 1)
        reporter.progress({"time_budget": budget.model_dump(mode="json")})
    return TrainOutcome(
        model=model,
        tokenizer=tokenizer,
        is_main=is_main,
        stopped=callbacks[0].stopped_at is not None,
        global_step=trainer.state.global_step,
        max_length=max_length,
        truncation_share=trunc,
        device=device,
        precision=precision,
        val_probs=probs,
        train_seconds=train_seconds,
        resumed_from_step=resumed_from,
        warnings=warnings,
        time_budget=budget,
    )


def predict_probs(model: Any, tokenizer: Any, ds: EncodedDataset, batch_size: int, precision: str) -> np.ndarray:
    """Class probabilities for every item of `ds`, in its order (batches are length-sorted for speed)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(ds)), key=lambda i: len(ds.items[i]["input_ids"]))
    multi_label = getattr(model.config, "problem_type", None) == "multi_label_classification"
    out = np.zeros((len(ds), model.config.num_labels), dtype=np.float64)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            feats = [{k: ds.items[i][k] for k in ("input_ids", "attention_mask")} for i in idx]
            batch = tokenizer.pad(feats, return_tensors="pt").to(device)
            logits = model(**batch).logits.float().cpu().numpy()
            out[idx] = sigmoid(logits) if multi_label else softmax(logits)
    return out


def rescore_long_as_served(
    model: Any, tokenizer: Any, texts: Sequence[Any], lengths: Sequence[int], max_length: int, probs: np.ndarray
) -> np.ndarray:
    """Validation texts longer than `max_length` scored as the version will answer them (`TokenizedPredictor.scored`:
    overlapping windows, logits combined) instead of cut: its metrics, thresholds and blend weight then describe what
    it serves. Pairs are never windowed."""
    import torch

    long = [i for i, (t, n) in enumerate(zip(texts, lengths, strict=True)) if isinstance(t, str) and n > max_length]
    if not long:
        return probs
    multi_label = getattr(model.config, "problem_type", None) == "multi_label_classification"
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id or 0

    def run_batch(features: list[dict[str, list[int]]]) -> np.ndarray:
        batch = pad_windows(features, pad_id, "pt")
        with torch.inference_mode():
            return model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu().numpy()

    model.eval()
    combined = windowed_logits(tokenizer, [texts[i] for i in long], max_length, run_batch, combine_for(multi_label))
    out = probs.copy()
    out[long] = sigmoid(combined.logits) if multi_label else softmax(combined.logits)
    return out


def save_model_folder(model: Any, tokenizer: Any, folder: Path) -> None:
    """Write the HF `save_pretrained` output (safetensors + tokenizer + config with id2label) that serving loads."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
