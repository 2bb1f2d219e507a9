"""Shapes of training requests, runs, their metric history, logs and the queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_trainer.ml.training.config import TrainingConfig


class TrainCreate(BaseModel):
    """Body of `POST /train`: config fields may be nested under `config` or given at the top level."""

    model_config = ConfigDict(extra="forbid")

    dataset_id: int = Field(description="Id of an uploaded dataset (GET /api/datasets).")
    base_model: str = Field(
        "embedded:multilingual-e5-small",
        description="Model source: a hub id (bert-base-chinese), an absolute folder, "
        "'embedded:multilingual-e5-small' or 'tfidf'.",
    )
    config: TrainingConfig = Field(default_factory=TrainingConfig)

    @model_validator(mode="before")
    @classmethod
    def _lift_flat_config(cls, data: Any) -> Any:
        """Accept `{"dataset_id": 1, "epochs": 2}` as well as `{"dataset_id": 1, "config": {"epochs": 2}}`."""
        if not isinstance(data, dict):
            return data
        flat = {k: data[k] for k in data if k in TrainingConfig.model_fields}
        if not flat:
            return data
        rest = {k: v for k, v in data.items() if k not in flat}
        return {**rest, "config": {**(rest.get("config") or {}), **flat}}


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    status: str
    dataset_id: int | None
    task: str = Field(description="The dataset's task, which this run trains.")
    base_model: str
    config: dict[str, Any]
    queue_position: int | None = Field(None, description="1-based place in the queue while queued.")
    stop_requested: bool
    pid: int | None
    device: str
    progress: dict[str, Any] = Field(description="Latest step, epoch, loss, lr, samples/s, elapsed, ETA, phase.")
    error_message: str
    log_tail: str
    resume_count: int
    created_at: datetime
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    model_version_ids: list[int] = Field(default_factory=list, description="Versions this run produced.")


class RunList(BaseModel):
    items: list[RunPublic]
    total: int


class TrainStatus(BaseModel):
    """`GET /train/status`: the run training now (if any), every running run, and the queue in order."""

    current: RunPublic | None
    running: list[RunPublic]
    queue: list[RunPublic]


class TrainStop(BaseModel):
    run_id: int | None = Field(None, description="Run to stop (default: the one training now).")


class MetricPoint(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str = Field(description="train | eval | system")
    step: int
    epoch: float
    values: dict[str, Any]
    created_at: datetime


class MetricList(BaseModel):
    items: list[MetricPoint]
    last_id: int = Field(description="Pass as after_id to fetch only newer points.")


class RunLogs(BaseModel):
    run_id: int
    lines: list[str]
    size_bytes: int
