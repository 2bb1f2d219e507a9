"""Load tokenizers and sequence-classification models: a base model to train, or a saved version to serve.

Every part of the product (training, prediction, CLI) goes through these two functions.

- `load_base_for_training(source, labels, cache_dir, progress, train_texts=None)`: `source` is a hub id
  (`bert-base-chinese`), an absolute folder (or `local:/path`) or `embedded:multilingual-e5-small` (see
  `ml/base_models/sources.py`; `tfidf` goes to `ml/baseline.py` instead). Hub and local BERTs get
  `AutoModelForSequenceClassification` (their own pooler); the embedded model gets the mean-pooling head
  (`MeanPoolBertForSequenceClassification`: it beat the randomly initialised BERT pooler head on validation
  accuracy, waimai 0.892 vs 0.886 and thucnews 0.820 vs 0.802, see bench/base_models.py). Pass
  `train_texts` (the training split) to trim the embedded model's 250k-piece vocabulary to what the data needs
  (~8k pieces: faster steps, a saved version < 100 MB); it is ignored for WordPiece models.
- `load_classifier(path, device)`: any version saved with `save_pretrained`, whichever head it has (the head is
  recorded by `model_type` in its config.json; no `trust_remote_code`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput
from llm_trainer.ml.base_models.progress import ProgressCallback

__all__ = ["ProgressCallback", "load_base_for_training", "load_classifier", "resolve_source_folder"]


def resolve_source_folder(source: str, cache_dir: Path, progress: ProgressCallback | None = None) -> Path:
    """A local HF folder for `source`: checked local folder, cached/downloaded hub or ModelScope snapshot, or e5."""
    from llm_trainer.ml.base_models.embedded import ensure_embedded
    from llm_trainer.ml.base_models.local import check_local_folder
    from llm_trainer.ml.base_models.remotes import REMOTES
    from llm_trainer.ml.base_models.sources import EMBEDDED_GEMMA_SOURCE, parse_source

    src = parse_source(source)
    if src.kind == "tfidf":
        raise InvalidInput(
            "'tfidf' is not a transformer: train it with ml.baseline.train_baseline.", code="not_a_transformer"
        )
    if src.kind == "local":
        return check_local_folder(src.ref)
    if src.kind == "embedded":
        if src.source == EMBEDDED_GEMMA_SOURCE:
            from llm_trainer.ml.base_models.embedded_gemma import ensure_gemma

            return ensure_gemma(cache_dir)
        return ensure_embedded(cache_dir, progress)
    return check_local_folder(REMOTES[src.kind].resolve(src.ref, progress))


def load_base_for_training(
    source: str,
    labels: list[str],
    cache_dir: Path,
    progress: ProgressCallback | None = None,
    *,
    train_texts: list[str] | None = None,
) -> tuple[Any, Any]:
    """Return (tokenizer, model) for `source` with a fresh head for `labels` (vocabulary trimmed to `train_texts`)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

    from llm_trainer.ml.base_models.heads import MeanPoolBertConfig, MeanPoolBertForSequenceClassification
    from llm_trainer.ml.base_models.sources import parse_source
    from llm_trainer.ml.base_models.vocab import trim_vocabulary

    folder = resolve_source_folder(source, cache_dir, progress)
    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    head = {"num_labels": len(labels), "id2label": id2label, "label2id": label2id}
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if parse_source(source).kind == "embedded":
        encoder = BertConfig.from_pretrained(folder).to_dict()
        encoder.pop("model_type", None)
        config = MeanPoolBertConfig(**{**encoder, **head})
        model = MeanPoolBertForSequenceClassification.from_pretrained(folder, config=config)
        if train_texts is not None:
            tokenizer, model = trim_vocabulary(tokenizer, model, train_texts)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, **head, ignore_mismatched_sizes=True, trust_remote_code=False
        )
    model.config.base_model_source = parse_source(source).source
    return tokenizer, model


def load_classifier(path: Path, device: str = "cpu") -> tuple[Any, Any]:
    """Return (tokenizer, model) of a saved, trained version folder, in eval mode on `device`."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import llm_trainer.ml.base_models.heads  # noqa: F401 - registers the mean-pooling head with the Auto classes
    from llm_trainer.ml.base_models.local import check_local_folder

    folder = check_local_folder(path)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=False)
    return tokenizer, model.to(device).eval()
