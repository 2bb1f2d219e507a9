"""Small generated Chinese review datasets stored straight into the DB, for training tests."""

from __future__ import annotations

import random

from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.db.base import session_scope
from llm_trainer.db.models import Dataset, DatasetRow

# Built only from characters of the tiny model's vocabulary (conftest.TINY_TEXTS), so nothing maps to [UNK].
POSITIVE = ["好吃", "不错", "很好", "服务很好", "还会再来", "味道不错", "这家店的菜很好吃"]
NEGATIVE = ["难吃", "差评", "太慢了", "饭都凉了", "包装破了", "送餐太慢", "难吃, 差评"]


def review_rows(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (text, label) pairs, balanced between 好评 and 差评, labels learnable from the words used."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        words, label = (POSITIVE, "好评") if i % 2 == 0 else (NEGATIVE, "差评")
        rows.append((", ".join(rng.choice(words) for _ in range(rng.randint(1, 4))), label))
    return rows


def insert_dataset(factory: sessionmaker[Session], rows: list[tuple[str, str]], name: str = "评论") -> int:
    """Store a dataset and its rows as the upload service would; returns its id."""
    with session_scope(factory) as session:
        labels: dict[str, int] = {}
        for _, label in rows:
            labels[label] = labels.get(label, 0) + 1
        ds = Dataset(
            name=name, filename=f"{name}.csv", file_format="csv", text_column="text", label_column="label",
            rows_read=len(rows), row_count=len(rows), labels=labels, content_hash=f"hash-{name}-{len(rows)}",
        )  # fmt: skip
        session.add(ds)
        session.flush()
        session.add_all(
            DatasetRow(dataset_id=ds.id, idx=i, text=text, label=label) for i, (text, label) in enumerate(rows)
        )
        return ds.id
