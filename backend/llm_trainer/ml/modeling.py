"""Load tokenizers and sequence-classification models: a base model to train, or a saved version to serve.

Every part of the product (training, prediction, CLI) goes through these two functions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

ProgressCallback = Callable[[dict[str, Any]], None]


def load_base_for_training(
    source: str,
    labels: list[str],
    cache_dir: Path,
    progress: ProgressCallback | None = None,
) -> tuple[Any, Any]:
    """Return (tokenizer, model) for `source` (hub id, local folder, or embedded model) with a fresh head."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(labels), id2label=id2label, label2id=label2id, ignore_mismatched_sizes=True
    )
    return tokenizer, model


def load_classifier(path: Path, device: str = "cpu") -> tuple[Any, Any]:
    """Return (tokenizer, model) of a saved, trained version folder, in eval mode on `device`."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).to(device).eval()
    return tokenizer, model
