"""Dataset use cases on a real SQLite file: all-or-nothing upload, conflicts, preview filters, stats, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import Conflict, InvalidInput, NotFound
from llm_trainer.db.base import make_engine, make_session_factory
from llm_trainer.db.migrate import upgrade_to_head
from llm_trainer.db.models import Dataset, DatasetRow, Run
from llm_trainer.db.repositories.datasets import training_rows
from llm_trainer.services import datasets as service
from tests.helpers.datafiles import many_rows, write_csv


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


def upload(session: Session, settings: Settings, rows, header=("text", "label"), name="d.csv", **kw) -> Dataset:
    service.incoming_dir(settings).mkdir(parents=True, exist_ok=True)
    path = write_csv(service.incoming_dir(settings) / name, rows, header)
    return service.create_from_upload(session, settings, path, name, **kw)


def stored_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.uploads_dir.rglob("*") if p.is_file())


def test_upload_stores_rows_keeps_the_file_and_cleans_the_incoming_dir(session: Session, settings: Settings) -> None:
    ds = upload(session, settings, many_rows(30), name="评论.csv", description=" 外卖 ")
    assert (ds.name, ds.description, ds.row_count, ds.labels) == ("评论", "外卖", 30, {"正面": 15, "负面": 15})
    assert len(ds.content_hash) == 64
    assert stored_files(settings) == [settings.uploads_dir / str(ds.id) / "评论.csv"]
    assert session.scalar(select(func.count()).select_from(DatasetRow)) == 30


def test_training_rows_exclude_conflicts_and_keep_file_order(session: Session, settings: Settings) -> None:
    rows = many_rows(20) + [["第0条评论，味道一般", "负面"]]  # row 0 said 正面: both become conflicts
    ds = upload(session, settings, rows + [["新的", "正面", "dev"]], header=("text", "label", "split"))
    got = training_rows(session, ds.id)
    assert len(got) == 20  # 21 stored, 2 conflicts left out
    assert got[0] == ("第1条评论，味道好", "负面", None)
    assert got[-1] == ("新的", "正面", "validation")
    flagged = service.preview_rows(session, ds.id, conflict=True)
    assert [(r.idx, r.label) for r in flagged.items] == [(0, "正面"), (20, "负面")]
    assert ds.report["conflicts"]["rows"] == 2


@pytest.mark.parametrize(
    ("rows", "kw", "code"),
    [
        ([[f"文本{i}", "同一个"] for i in range(50)], {}, "too_few_labels"),
        ([["", "a"], ["", "b"]], {}, "empty_dataset"),
        (many_rows(10), {"label_column": "星级"}, "missing_columns"),
    ],
)
def test_failed_upload_leaves_no_dataset_rows_or_files(
    session: Session, settings: Settings, rows: list, kw: dict, code: str
) -> None:
    upload(session, settings, many_rows(10), name="first.csv")  # an earlier dataset stays intact
    with pytest.raises(InvalidInput) as err:
        upload(session, settings, rows, name="bad.csv", **kw)
    assert err.value.code == code
    assert session.scalar(select(func.count()).select_from(Dataset)) == 1
    assert session.scalar(select(func.count()).select_from(DatasetRow)) == 10
    assert [p.name for p in stored_files(settings)] == ["first.csv"]


def test_preview_pages_filters_and_searches(session: Session, settings: Settings) -> None:
    rows = many_rows(25) + [["100%_满意", "正面", "test"]]
    ds = upload(session, settings, [r + ["train"] for r in many_rows(25)] + [rows[-1]], ("text", "label", "split"))
    page = service.preview_rows(session, ds.id, page=2, page_size=10)
    assert (page.total, [r.idx for r in page.items]) == (26, list(range(10, 20)))
    assert service.preview_rows(session, ds.id, page=9, page_size=10).items == []
    neg = service.preview_rows(session, ds.id, label="负面", page_size=100)
    assert neg.total == 12 and {r.label for r in neg.items} == {"负面"}
    assert service.preview_rows(session, ds.id, q="第1").total == 11  # 第1, 第10..第19
    # LIKE wildcards in the query are literal characters.
    assert [r.text for r in service.preview_rows(session, ds.id, q="%_").items] == ["100%_满意"]
    assert service.preview_rows(session, ds.id, q="0%").total == 1
    assert service.preview_rows(session, ds.id, split="test").total == 1
    assert service.preview_rows(session, ds.id, label="正面", q="味道好").total == 0  # odd rows are 负面
    with pytest.raises(InvalidInput):
        service.preview_rows(session, ds.id, split="holdout")


def test_stats_per_split(session: Session, settings: Settings) -> None:
    rows = [[f"t{i}", "ab"[i % 2], "train" if i < 16 else "dev"] for i in range(20)]
    ds = upload(session, settings, rows, ("text", "label", "split"))
    stats = service.dataset_stats(session, ds.id)
    assert stats["split_label_counts"] == {"train": {"a": 8, "b": 8}, "validation": {"a": 2, "b": 2}}
    assert stats["trainable_rows"] == 20 and stats["conflict_rows"] == 0
    assert stats["text_length"]["max"] == 3


def test_update_and_delete(session: Session, settings: Settings) -> None:
    ds = upload(session, settings, many_rows(10))
    updated = service.update_dataset(session, ds.id, name="  新 名字 ", description="描述")
    assert (updated.name, updated.description) == ("新 名字", "描述")
    with pytest.raises(InvalidInput):
        service.update_dataset(session, ds.id, name="   ")
    service.delete_dataset(session, settings, ds.id)
    assert stored_files(settings) == []
    assert session.scalar(select(func.count()).select_from(DatasetRow)) == 0
    with pytest.raises(NotFound) as err:
        service.get_dataset(session, ds.id)
    assert err.value.code == "dataset_not_found"


def test_dataset_used_by_a_running_run_cannot_be_deleted(session: Session, settings: Settings) -> None:
    ds = upload(session, settings, many_rows(10))
    session.add(Run(dataset_id=ds.id, base_model="tiny", status="running"))
    session.commit()
    with pytest.raises(Conflict) as err:
        service.delete_dataset(session, settings, ds.id)
    assert err.value.code == "dataset_in_use"
    assert service.get_dataset(session, ds.id).row_count == 10
