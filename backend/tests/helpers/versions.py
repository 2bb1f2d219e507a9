"""Create real model versions for tests: a tiny BERT fine-tuned in-process on generated reviews, or a TF-IDF one.

The tiny model is trained once per test session (about a second) and copied into each version folder, so every
version predicts meaningfully: texts with 好吃/不错/很好 come out 好评, texts with 难吃/太慢/差评 come out 差评.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from llm_trainer.core.config import Settings
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.migrate import upgrade_to_head
from llm_trainer.db.models import ModelVersion
from llm_trainer.ml.version_store import folder_size, publish, staged_version, version_folder
from tests.helpers.tiny_model import build_tiny_bert

LABELS = ["差评", "好评"]
POSITIVE_WORDS = ["好吃", "不错", "很好", "满意", "推荐", "喜欢"]
NEGATIVE_WORDS = ["难吃", "太慢", "差评", "失望", "凉了", "糟糕"]
FILLERS = ["这家店", "外卖", "今天的饭", "味道", "送餐", "服务"]


def review_texts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """`n` balanced (text, label) pairs whose label follows from the sentiment words they contain."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words, label = (POSITIVE_WORDS, "好评") if i % 2 == 0 else (NEGATIVE_WORDS, "差评")
        parts = [rng.choice(FILLERS)] + [rng.choice(words) for _ in range(rng.randint(1, 3))]
        rows.append(("，".join(parts), label))
    return rows


@lru_cache(maxsize=1)
def trained_tiny_bert() -> Path:
    """Fine-tune the tiny BERT on generated reviews until it separates them; cached for the test session."""
    import torch

    rows = review_texts(64, seed=1)
    folder = build_tiny_bert(Path(tempfile.mkdtemp(prefix="tiny-trained-")), [t for t, _ in rows] + FILLERS)
    from transformers import AutoTokenizer, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = BertForSequenceClassification.from_pretrained(
        folder, num_labels=2, id2label=dict(enumerate(LABELS)), label2id={lbl: i for i, lbl in enumerate(LABELS)}
    )
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    enc = tokenizer([t for t, _ in rows], padding=True, return_tensors="pt")
    targets = torch.tensor([LABELS.index(lbl) for _, lbl in rows])
    model.train()
    for _ in range(30):
        loss = model(**enc, labels=targets).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _insert(settings: Settings, fill, manifest: dict, **fields) -> int:  # noqa: ANN001 - fill(folder) writes files
    """Insert the row first (its id names the folder), write the files with the real version writer (staging
    folder, fsync, rename), then record path and size."""
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    settings.ensure_dirs()
    try:
        with session_scope(make_session_factory(engine)) as session:
            version = ModelVersion(path="", **fields)
            session.add(version)
            session.flush()
            with staged_version(settings.models_dir, "-helper", manifest) as staged:
                fill(staged)
                folder = publish(staged, version_folder(settings.models_dir, version.id))
            version.path = str(folder)
            version.size_bytes = folder_size(folder)
            return version.id
    finally:
        engine.dispose()


def make_version(
    settings: Settings,
    name: str = "tiny 好评/差评",
    *,
    is_default: bool = False,
    dataset_id: int | None = None,
    **extra,
) -> int:
    """A transformer version of the trained tiny BERT; returns its id."""

    def fill(folder: Path) -> None:
        shutil.copytree(trained_tiny_bert(), folder, dirs_exist_ok=True)

    manifest = {
        "kind": "transformer",
        "labels": LABELS,
        "base_model": "tiny-bert",
        "max_length": 64,
        "metrics": {"accuracy": 1.0},
        "training_config": {},
        "lineage": {"dataset_id": dataset_id},
    }
    return _insert(
        settings,
        fill,
        manifest,
        name=name,
        kind="transformer",
        base_model="tiny-bert",
        status="succeeded",
        labels=LABELS,
        metrics={"accuracy": 1.0, "macro_f1": 1.0, "baseline": {"accuracy": 0.9}, "global_step": 30},
        is_default=is_default,
        dataset_id=dataset_id,
        **extra,
    )


def make_tfidf_version(settings: Settings, name: str = "TF-IDF 基线", **extra) -> int:
    """A TF-IDF baseline version trained on the same generated reviews; returns its id."""
    from llm_trainer.ml.baseline import save_baseline, train_baseline

    rows = review_texts(64, seed=1)

    def fill(folder: Path) -> None:
        pipeline, _ = train_baseline([t for t, _ in rows], [lbl for _, lbl in rows])
        save_baseline(pipeline, folder)

    manifest = {"kind": "tfidf", "labels": LABELS, "base_model": "tfidf", "metrics": {}}
    return _insert(
        settings,
        fill,
        manifest,
        name=name,
        kind="tfidf",
        base_model="tfidf",
        status="succeeded",
        labels=LABELS,
        **extra,
    )


def make_ensemble_version(settings: Settings, weight: float = 0.4, *, offered: bool = True) -> int:
    """A tiny BERT version whose training found a blend with its TF-IDF baseline (the generated reviews' one) at
    `weight` that beat it on validation (`offered`), or one that did not (recorded, nothing saved); returns its id."""
    from llm_trainer.ml.baseline import save_baseline, train_baseline
    from llm_trainer.ml.version_store import ensemble_dir

    rows = review_texts(64, seed=1)
    record = {
        "weight": weight if offered else 0.0,
        "primary_metric": "accuracy",
        "metrics": {"accuracy": 0.95 if offered else 0.9, "macro_f1": 0.95 if offered else 0.9},
        "model_value": 0.9,
        "beats_model": offered,
        "offered": offered,
        "by_weight": [{"weight": w / 10, "accuracy": 0.9} for w in range(11)],
    }

    def fill(folder: Path) -> None:
        shutil.copytree(trained_tiny_bert(), folder, dirs_exist_ok=True)
        if offered:
            pipeline, _ = train_baseline([t for t, _ in rows], [lbl for _, lbl in rows])
            save_baseline(pipeline, ensemble_dir(folder))

    manifest = {"kind": "transformer", "labels": LABELS, "base_model": "tiny-bert", "max_length": 64,
                **({"ensemble": {"weight": weight}} if offered else {})}  # fmt: skip
    metrics = {"accuracy": 0.9, "macro_f1": 0.9, "baseline": {"accuracy": 0.85}, "ensemble": record}
    return _insert(settings, fill, manifest, name="tiny + TF-IDF", kind="transformer", base_model="tiny-bert",
                   status="succeeded", labels=LABELS, metrics=metrics)  # fmt: skip
