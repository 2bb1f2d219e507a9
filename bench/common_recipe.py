"""The common recipe: a plain Hugging Face `Trainer` fine-tune, as AutoTrain and most tutorials write it.

Usage: .venv/bin/python bench/common_recipe.py --model-dir DIR --data FILE.csv --out RESULT.json
       [--epochs 1] [--batch-size 32] [--learning-rate 1e-4] [--warmup-ratio 0.06] [--weight-decay 0.01]
       [--max-length 128] [--seed 42]
Every text padded to `max_length` (128) and cut there, fp32, the whole model trainable (embeddings included), the
standard `AutoModelForSequenceClassification` head, evaluation after each epoch, the model saved at the end (then
deleted).
FILE.csv has `text,label,split` columns (split `validation`/`test` = held out). Knows nothing of llm_trainer: it is
the side the product is compared with (bench/suite.py runs both in one invocation). Writes accuracy, macro-F1,
training seconds and samples/s to RESULT.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    Trainer,
    TrainingArguments,
)

HELD_OUT = {"validation", "valid", "val", "dev", "test", "eval"}


class Encoded(torch.utils.data.Dataset):
    def __init__(self, encodings: dict, labels: list[int]):
        self.encodings, self.labels = encodings, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        item = {k: torch.tensor(v[i]) for k, v in self.encodings.items()}
        item["labels"] = torch.tensor(self.labels[i])
        return item


def compute_metrics(pred) -> dict[str, float]:
    y = np.argmax(pred.predictions, axis=-1)
    return {
        "accuracy": accuracy_score(pred.label_ids, y),
        "macro_f1": f1_score(pred.label_ids, y, average="macro"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=1e-4)
    ap.add_argument("--warmup-ratio", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    with args.data.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    train = [r for r in rows if r["split"].lower() not in HELD_OUT]
    val = [r for r in rows if r["split"].lower() in HELD_OUT]
    labels = sorted({r["label"] for r in rows})
    label2id = {name: i for i, name in enumerate(labels)}

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model_dir,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id=label2id,
    )

    def encode(part: list[dict]) -> Encoded:
        enc = tokenizer(
            [r["text"] for r in part],
            padding="max_length",
            truncation=True,
            max_length=args.max_length,
        )
        return Encoded(dict(enc), [label2id[r["label"]] for r in part])

    out_dir = Path(tempfile.mkdtemp(prefix="common-recipe-"))
    steps = int(np.ceil(len(train) / args.batch_size) * args.epochs)
    training_args = TrainingArguments(
        output_dir=str(out_dir),
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=int(args.warmup_ratio * steps),
        weight_decay=args.weight_decay,
        num_train_epochs=args.epochs,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=50,
        seed=args.seed,
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=encode(train),
        eval_dataset=encode(val),
        compute_metrics=compute_metrics,
    )
    train_out = (
        trainer.train()
    )  # evaluates after each epoch; the last evaluation is the result
    final = [log for log in trainer.state.log_history if "eval_accuracy" in log][-1]
    started = time.monotonic()
    trainer.save_model(str(out_dir / "model"))
    save_seconds = time.monotonic() - started
    saved_mb = (
        sum(f.stat().st_size for f in (out_dir / "model").rglob("*") if f.is_file())
        / 2**20
    )
    shutil.rmtree(out_dir, ignore_errors=True)
    result = {
        "train_rows": len(train),
        "validation_rows": len(val),
        "train_seconds": train_out.metrics[
            "train_runtime"
        ],  # the evaluation after each epoch included
        # training steps only (as the product's progress counts them): the epoch-end evaluation taken out
        "samples_per_s": len(train)
        * args.epochs
        / (train_out.metrics["train_runtime"] - final["eval_runtime"]),
        "eval_seconds": final["eval_runtime"],
        "save_seconds": save_seconds,
        "saved_mb": round(saved_mb, 1),
        "accuracy": final["eval_accuracy"],
        "macro_f1": final["eval_macro_f1"],
        "max_length": args.max_length,
        "precision": "fp32",
        "threads": torch.get_num_threads(),
    }
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
