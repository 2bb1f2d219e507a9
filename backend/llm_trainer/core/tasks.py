"""The NLP tasks the platform trains: one value per task, stored on datasets, runs and versions."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class TaskKind(StrEnum):
    CLASSIFICATION = "classification"  # single-label text classification
    MULTI_LABEL = "multi_label"  # several labels per text, sigmoid head
    PAIR = "pair"  # two texts, one label (matching / NLI), cross-encoder
    NER = "ner"  # character-offset entity spans, token classification
    GENERATION = "generation"  # instruction / chat SFT of a causal LM


class TaskDetection(BaseModel):
    """Which task an upload's layout belongs to (stored in its report as `task_detection`)."""

    task: TaskKind | None = Field(None, description="The task whose layout the file is in; null: none recognised.")
    evidence: list[str] = Field(default_factory=list, description="What showed it: columns, JSON keys or tag scheme.")
    asked: TaskKind | None = Field(None, description="The task the uploader chose; null: the detected one was used.")
