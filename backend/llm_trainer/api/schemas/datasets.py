"""Dataset API shapes: the dataset with its validation report, row previews, stats, updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from llm_trainer.core.tasks import TaskDetection
from llm_trainer.db.models import Dataset

_S = TypeVar("_S", bound="DatasetSummary")


class ReportIssue(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class HistogramBin(BaseModel):
    start: int = Field(description="Shortest length in the bin (characters, inclusive).")
    end: int = Field(description="Longest length in the bin (inclusive); the last bin reaches the longest text.")
    count: int


class TextLengthStats(BaseModel):
    min: int
    mean: float
    median: float
    p95: float
    max: int
    histogram: list[HistogramBin]


class DroppedCounts(BaseModel):
    empty_text: int
    empty_label: int
    duplicate: int = Field(description="Exact repeats of an earlier (text, label) row.")
    malformed: int = Field(description="Rows with fewer cells than the header.")


class ConflictExample(BaseModel):
    text: str
    labels: list[str]
    first_idx: int
    text_a: str | None = Field(None, description="Sentence pairs: the first text.")
    text_b: str | None = Field(None, description="Sentence pairs: the second text.")


class ConflictsReport(BaseModel):
    texts: int = Field(description="Distinct texts that appear with different labels.")
    rows: int = Field(description="Rows holding those texts: kept for review, excluded from training.")
    examples: list[ConflictExample]


class LabelChange(BaseModel):
    original: str
    normalised: str


class SourceInfo(BaseModel):
    format: str
    encoding: str | None
    delimiter: str | None
    columns: list[str]
    text_column: str
    label_column: str | None
    text_b_column: str | None = Field(None, description="Sentence pairs: the column of the second text.")
    multi_label_form: dict[str, Any] | None = Field(
        None, description="Multi-label: format (separated | json_list | wide), separator found, label column(s)."
    )
    split_column: str | None
    guessed_columns: dict[str, str] = Field(description="Role -> column chosen by guessing from the header.")
    size_bytes: int


class ValidationReport(BaseModel):
    """The shared part of every task's report; a task adds its own sections (e.g. `multi_label`, `pairs`)."""

    model_config = ConfigDict(extra="allow")

    rows_read: int
    rows_kept: int
    trainable_rows: int
    dropped: DroppedCounts
    malformed_rows: list[int]
    conflicts: ConflictsReport
    labels_normalised: list[LabelChange]
    label_counts: dict[str, int]
    split_counts: dict[str, int]
    text_length: TextLengthStats
    warnings: list[ReportIssue]
    source: SourceInfo
    ingest_seconds: float
    task_detection: TaskDetection | None = Field(
        None, description="The task the file's layout showed (uploads from before detection: null)."
    )


class DatasetSummary(BaseModel):
    """A dataset as listed: identity, size and classes."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    task: str = Field(description="classification | multi_label | pair | ner | generation")
    filename: str
    file_format: str
    encoding: str
    text_column: str
    label_column: str
    rows_read: int
    row_count: int = Field(description="Rows stored (duplicates and empty rows dropped, conflicts kept).")
    labels: dict[str, int] = Field(description="Trainable rows per label, most frequent first.")
    num_labels: int
    content_hash: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls: type[_S], dataset: Dataset) -> _S:
        """Every stored column, plus the derived label count (subclasses add the report the same way)."""
        return cls.model_validate({**_columns(dataset), "num_labels": len(dataset.labels or {})})


class DatasetPublic(DatasetSummary):
    """A dataset with its full validation report."""

    report: ValidationReport


class DatasetUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)


class DatasetRowPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    idx: int = Field(description="0-based position of the row among the file's data rows.")
    text: str
    label: str
    split: str | None
    conflict: bool
    text_b: str | None = Field(None, description="Sentence pairs: the second text.")
    annotation: Any = Field(None, description="The task's structured target (multi-label list, entity spans...).")


class DatasetStats(BaseModel):
    dataset_id: int
    rows_read: int
    row_count: int
    trainable_rows: int
    conflict_rows: int
    label_counts: dict[str, int]
    split_label_counts: dict[str, dict[str, int]] = Field(
        description="Trainable rows per label within each split ('unassigned' when the file has no split)."
    )
    text_length: TextLengthStats
    warnings: list[ReportIssue]


def _columns(dataset: Dataset) -> dict[str, Any]:
    return {c.key: getattr(dataset, c.key) for c in Dataset.__table__.columns}
