"""The one training configuration shape: API body, CLI flags, UI form and the saved run all use `TrainingConfig`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_trainer.core.tasks import TaskKind
from llm_trainer.ml.training.data import HEAD_TAIL_ENOUGH, WHOLE_TEXT_CPU_CAP

# The tasks a field applies to (`x-tasks`): the training form shows a task's own fields only.
ENCODER_TASKS = [k.value for k in TaskKind if k != TaskKind.GENERATION]
GENERATION_ONLY: dict[str, Any] = {"x-tasks": [TaskKind.GENERATION.value]}
ENCODER_ONLY: dict[str, Any] = {"x-tasks": ENCODER_TASKS}
# Defaults that differ by task; a value the user gives wins. NER: a tag on every character needs more passes than one
# label per text.
TASK_DEFAULTS: dict[str, dict[str, Any]] = {TaskKind.NER.value: {"epochs": 5}}


def _task_defaults(name: str) -> dict[str, Any]:
    """A field's per-task defaults for the schema (`x-task-defaults`): the form switches them with the dataset."""
    return {"x-task-defaults": {task: values[name] for task, values in TASK_DEFAULTS.items() if name in values}}


class TrainingConfig(BaseModel):
    """Hyper-parameters and hardware choices of one training run; every field has help text and bounds."""

    model_config = ConfigDict(extra="forbid")

    run_name: str = Field("", max_length=200, description="Optional name shown in the run list (default: generated).")
    learning_rate: float = Field(
        1e-4, gt=0, le=1e-2, description="Peak learning rate of AdamW. 2e-5..1e-4 suits most fine-tuning."
    )
    head_learning_rate: float | None = Field(
        1e-2,
        gt=0,
        le=1,
        description="Encoder tasks: learning rate of the new task head (classifier). It starts from random weights on "
        "the pre-trained encoder and needs a much higher rate (SetFit uses 1e-2 for its head). Empty = the learning "
        "rate above for the whole model.",
        json_schema_extra=ENCODER_ONLY,
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per step on each device.")
    epochs: float = Field(
        3,
        gt=0,
        le=100,
        description="Passes over the training split (fractions allowed). Default 3; NER 5 (tags on every character "
        "need more passes).",
        json_schema_extra=_task_defaults("epochs"),
    )
    max_length: int | None = Field(
        None,
        ge=8,
        le=8192,
        description="Longest input in tokens; longer texts are truncated. Empty = the training texts' 95th "
        f"percentile (multi-label: the longest text, on CPU at most {WHOLE_TEXT_CPU_CAP}), capped at the model's "
        f"limit and, on CPU with head_tail truncation (other tasks), at {HEAD_TAIL_ENOUGH} (the share of truncated "
        "texts is reported).",
        # the UI's translated help names the caps
        json_schema_extra={"x-help-values": {"cap": HEAD_TAIL_ENOUGH, "whole": WHOLE_TEXT_CPU_CAP}},
    )
    truncation: Literal["head", "head_tail"] = Field(
        "head_tail",
        description="How a text longer than max_length is cut, in training and prediction: head keeps its start; "
        "head_tail keeps its first quarter and last three quarters (a review's verdict or an article's conclusion "
        "is often at the end). Text pairs always keep both parts.",
        json_schema_extra=ENCODER_ONLY,
    )
    time_budget_minutes: float | None = Field(
        None,
        ge=0,
        le=10_080,
        description="Classification, multi-label, pair and NER runs on CPU: fit training and evaluation into about "
        "this many minutes: a few steps are timed first, then max length, epochs or the share of rows used are lowered "
        "until the estimate fits (the run page says "
        "what was chosen and shows the actual time). 0 = off. Empty = the server's default "
        "(LLM_TRAINER_CPU_TIME_BUDGET_MINUTES, 15). GPU runs are not limited.",
        json_schema_extra=ENCODER_ONLY,
    )
    warmup_ratio: float = Field(0.06, ge=0, le=0.5, description="Share of steps spent ramping the learning rate up.")
    weight_decay: float = Field(0.01, ge=0, le=1, description="AdamW weight decay (regularisation).")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=256, description="Steps whose gradients are summed before one update (bigger effective batch)."
    )
    eval_strategy: Literal["epoch", "steps"] = Field(
        "epoch", description="Evaluate on the validation split after each epoch, or every `eval_steps` steps."
    )
    eval_steps: int = Field(200, ge=1, le=1_000_000, description="Steps between evaluations when eval_strategy=steps.")
    save_strategy: Literal["epoch", "steps", "no"] = Field(
        "epoch",
        description="When to write a resumable checkpoint (steps uses eval_steps). It must match eval_strategy for the "
        "best checkpoint to be kept; 'no' saves only at the end or on stop.",
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, le=100, description="Stop after this many evaluations without macro-F1 improving (empty = off)."
    )
    seed: int = Field(42, ge=0, le=2**31 - 1, description="Random seed for the split, initialisation and shuffling.")
    class_weighting: Literal["off", "auto"] = Field(
        "off",
        description="auto weights the loss by inverse class frequency (helps with imbalanced labels).",
        json_schema_extra=ENCODER_ONLY,
    )
    validation_source: Literal["split", "dataset"] = Field(
        "split",
        description="split: hold out `validation_ratio` of the rows (stratified); dataset: use the rows the dataset "
        "marks as validation/test.",
    )
    validation_ratio: float = Field(
        0.2, ge=0.05, le=0.5, description="Share of rows held out for validation when validation_source=split."
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where to train: auto picks CUDA, then Apple MPS, then CPU."
    )
    gpu_ids: list[int] = Field(
        default_factory=list,
        max_length=16,
        description="CUDA devices to use (empty = the first). Several ids start one process per GPU (torchrun).",
    )
    num_processes: int = Field(
        1,
        ge=1,
        le=16,
        description="Data-parallel processes. With several gpu_ids it is their count; on CPU >1 uses gloo DDP.",
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto",
        description="auto: bf16 on GPUs/CPUs that support it, else fp32. fp16 needs a CUDA GPU.",
    )
    freeze_embeddings: bool = Field(
        True,
        description="Keep the word-embedding table fixed: much faster steps on CPU for large-vocabulary models, "
        "usually without loss of accuracy.",
    )
    fast_serving: bool = Field(
        True,
        description="After training, also build an ONNX Runtime copy of the model and answer predictions with it "
        "when it gives the same results (same fp32 maths, about twice as fast on CPU). Adds seconds to the run "
        "and the copy's size on disk. Skipped when the run is stopped (build it later on the model page).",
        json_schema_extra=ENCODER_ONLY,
    )

    # --- generation (causal LM SFT) ---------------------------------------------------------------------------
    finetuning: Literal["lora", "full"] = Field(
        "lora",
        description="Generation: lora trains small adapter matrices (fast, a version of a few MB next to its base "
        "model); full updates every weight (slow on CPU, a full copy of the model).",
        json_schema_extra=GENERATION_ONLY,
    )
    lora_rank: int = Field(
        16,
        ge=1,
        le=256,
        description="Generation, LoRA: rank of the adapter matrices.",
        json_schema_extra=GENERATION_ONLY,
    )
    lora_alpha: int = Field(
        32,
        ge=1,
        le=1024,
        description="Generation, LoRA: scaling of the adapter's update (usually 2 x the rank).",
        json_schema_extra=GENERATION_ONLY,
    )
    lora_dropout: float = Field(
        0.0,
        ge=0,
        le=0.5,
        description="Generation, LoRA: dropout on the adapter input. 0 as in peft and LLaMA-Factory: on CPU the random "
        "masks cost about a fifth of a step; raise it (0.05-0.1) when a small dataset overfits.",
        json_schema_extra=GENERATION_ONLY,
    )
    lora_target_modules: list[str] = Field(
        default_factory=list,
        max_length=32,
        description="Generation, LoRA: module names to adapt; empty = the attention and MLP projections of the "
        "architecture (q/k/v/o, gate/up/down for Llama, Qwen, Gemma).",
        json_schema_extra=GENERATION_ONLY,
    )
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass: less memory for long texts, ~30% slower."
    )
    sample_prompts: int = Field(
        2,
        ge=0,
        le=10,
        description="Generation: after every evaluation, answer this many fixed validation prompts (greedy, 48 "
        "tokens) and show them next to the base model's answers and the references (0 = off).",
        json_schema_extra=GENERATION_ONLY,
    )
    eval_answers: int = Field(
        20,
        ge=0,
        le=200,
        description="Generation: after training, answer up to this many validation prompts (greedy, 96 tokens) with "
        "the fine-tuned and the base model and score them against the references: character ROUGE-L "
        "(rouge-score) and BLEU-4 (sacrebleu, zh). 0 = off; each answer costs seconds on a CPU.",
        json_schema_extra=GENERATION_ONLY,
    )
    logits_on_labels_only: bool = Field(
        True,
        description="Generation: compute the vocabulary-wide output only at positions the loss reads (the "
        "answers), not at the prompt tokens: faster and lighter for large vocabularies, same loss.",
        json_schema_extra=GENERATION_ONLY,
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if self.early_stopping_patience and self.save_strategy != self.eval_strategy:
            raise ValueError(
                "early_stopping_patience needs save_strategy equal to eval_strategy (so the best checkpoint can be "
                f"restored); set save_strategy to '{self.eval_strategy}' or clear early_stopping_patience"
            )
        if self.precision == "fp16" and self.device in ("cpu", "mps"):
            raise ValueError("precision fp16 needs a CUDA GPU; choose bf16 or fp32 on this device")
        if self.gpu_ids and self.device in ("cpu", "mps"):
            raise ValueError("gpu_ids only apply to device cuda or auto; clear gpu_ids or set device to cuda")
        if len(set(self.gpu_ids)) != len(self.gpu_ids) or any(i < 0 for i in self.gpu_ids):
            raise ValueError("gpu_ids must be distinct, non-negative CUDA device numbers")
        return self

    def for_task(self, task: str) -> TrainingConfig:
        """This config with the task's own defaults (`TASK_DEFAULTS`) for the fields the user left out."""
        unset = {k: v for k, v in TASK_DEFAULTS.get(task, {}).items() if k not in self.model_fields_set}
        return self.model_copy(update=unset) if unset else self

    @property
    def world_size(self) -> int:
        """Processes to launch: one per chosen GPU, else num_processes."""
        return len(self.gpu_ids) if len(self.gpu_ids) > 1 else self.num_processes
