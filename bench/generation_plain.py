"""The plain baseline for bench/generation.py --mode compare: LoRA SFT written the way a transformers + peft user
would, with no product code in the training path: the stock `Trainer` with the model's own loss (vocabulary-wide
logits at every position), random batches (no length grouping), the same LoRA settings, batch size (micro-batches
with gradient accumulation when the full-logits batch would not fit in memory), learning rate, schedule, precision
and seed as the product's run, on the same tokenised rows and split.

Also the held-back scoring: greedy answers of the base model and of the fine-tuned adapter to K prompts that neither
run trained or validated on, scored with the product's scorers (character ROUGE-L, BLEU-4).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

PROJECTIONS = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
]


class CountingCollator:
    """transformers' DataCollatorForSeq2Seq (labels padded with -100), counting the real tokens it batches."""

    def __init__(self, tokenizer: Any) -> None:
        from transformers import DataCollatorForSeq2Seq

        self.inner = DataCollatorForSeq2Seq(
            tokenizer, padding=True, label_pad_token_id=-100
        )
        self.tokens = 0

    def __call__(self, features: list[dict]) -> dict:
        batch = self.inner(features)
        self.tokens += int(batch["attention_mask"].sum())
        return batch


def plain_lora_sft(
    folder: Path,
    train: list[dict],
    val: list[dict],
    cfg: Any,
    precision: str,
    micro_batch: int,
    max_steps: int | None,
    work: Path,
) -> dict:
    """Train with the stock Trainer; `train`/`val` are {input_ids, labels} rows. Returns tokens/s and val loss."""
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(folder)
    lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=PROJECTIONS, task_type="CAUSAL_LM")  # fmt: skip
    model = get_peft_model(model, lora)
    micro = min(micro_batch, cfg.batch_size)
    accumulation = max(1, cfg.batch_size // micro)
    total_steps = -(-len(train) // (micro * accumulation))
    steps = min(max_steps, total_steps) if max_steps else total_steps
    args = TrainingArguments(
        output_dir=str(work),
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        num_train_epochs=1,
        max_steps=steps if max_steps else -1,
        learning_rate=cfg.learning_rate,
        warmup_steps=int(cfg.warmup_ratio * total_steps),
        weight_decay=cfg.weight_decay,
        bf16=precision == "bf16",
        use_cpu=True,
        seed=cfg.seed,
        eval_strategy="no"
        if max_steps
        else "epoch",  # like the product's run: one evaluation inside train()
        save_strategy="no",
        logging_steps=1,
        report_to="none",
        disable_tqdm=True,
        prediction_loss_only=True,  # the eval loop would otherwise keep every vocabulary-wide logit
        remove_unused_columns=False,
    )
    collator = CountingCollator(tokenizer)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=val,
        data_collator=collator,
    )
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    # The collator also batches the end-of-epoch evaluation: a whole epoch counts the training rows' tokens instead.
    tokens = collator.tokens if max_steps else sum(len(r["input_ids"]) for r in train)
    val_loss = trainer.evaluate()["eval_loss"]
    return {
        "train_seconds": round(seconds, 1),
        "tokens_per_s": round(tokens / seconds, 1),
        "loss": round(val_loss, 6),
        "steps": trainer.state.global_step,
        "total_steps": total_steps,
        "micro_batch": micro,
        "accumulation": accumulation,
    }


def held_out_scores(
    base_folder: Path, adapter_folder: Path, prompts: list, references: list[str]
) -> dict:
    """ROUGE-L / BLEU-4 of greedy answers (96 tokens, batches of 16) of the base model and of base + adapter."""
    from llm_trainer.ml.tasks.generation.chat import ensure_chat_template
    from llm_trainer.ml.tasks.generation.metrics import answer_scores
    from llm_trainer.ml.tasks.generation.predictor import ChatGenerator, ChatRequest
    from llm_trainer.ml.tasks.generation.training import ANSWER_TOKENS
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter_folder)
    ensure_chat_template(tokenizer)
    requests = [ChatRequest(p, max_new_tokens=ANSWER_TOKENS) for p in prompts]
    out = {}
    for name in ("base", "tuned"):
        model = AutoModelForCausalLM.from_pretrained(base_folder)
        if name == "tuned":
            model = PeftModel.from_pretrained(model, adapter_folder).merge_and_unload()
        started = time.monotonic()
        answers = ChatGenerator(tokenizer, model, 4096).greedy_texts(requests)
        out[name] = {**answer_scores(answers, references), "seconds": round(time.monotonic() - started, 1),
                     "example": answers[0][:80] if answers else ""}  # fmt: skip
        print(f"  held-out answers of the {name} model: {out[name]}", flush=True)
    return out
