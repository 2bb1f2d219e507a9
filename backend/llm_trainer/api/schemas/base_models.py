"""Shapes for `/api/base-models`: the sources a user can pick, a source check, the embedded model's preparation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from llm_trainer.ml.base_models.sources import SourceKind

Availability = Literal["cached", "downloadable", "offline-ready", "unavailable"]


class BaseModelPublic(BaseModel):
    source: str = Field(description="The string to put in a training config's `base_model`.")
    kind: SourceKind
    availability: Availability = Field(
        description="cached: in the local HF cache; downloadable: the hub answers; offline-ready: usable with no "
        "network; unavailable: not cached and the hub cannot be reached."
    )
    params_m: float = Field(description="Parameters, in millions.")
    size_mb: int = Field(description="Size of the weights on disk, in MB.")
    description_en: str
    description_zh: str
    default: bool
    license: str = Field("", description="Terms to show where the model is chosen (e.g. Gemma Terms of Use).")


class BaseModelListPublic(BaseModel):
    items: list[BaseModelPublic]
    default: str = Field(description="The source the UI/CLI preselects.")
    default_reason: str = Field(description="Why that default (cached, hub reachable, or offline fallback).")
    hub_endpoint: str = Field(description="The hub in use (HF_ENDPOINT, e.g. a mirror).")
    hub_reachable: bool
    hub_problem: str | None = Field(None, description="Why the hub is not reachable, when it is not.")


class BaseModelCheck(BaseModel):
    source: str = Field(
        min_length=1,
        max_length=1000,
        description="Hub id (bert-base-chinese), absolute folder (or local:/path), "
        "embedded:multilingual-e5-small, or tfidf.",
    )


class BaseModelCheckPublic(BaseModel):
    source: str = Field(description="The canonical source string.")
    kind: SourceKind
    availability: Availability
    message: str
    size_mb: int | None = None


class ProgressPublic(BaseModel):
    stage: str
    downloaded: int | None = None
    total: int | None = None
    percent: float | None = None


class ErrorPublic(BaseModel):
    code: str
    message: str


class EmbeddedStatusPublic(BaseModel):
    status: Literal["idle", "running", "ready", "failed"]
    folder: str | None = None
    progress: ProgressPublic | None = None
    error: ErrorPublic | None = None


class PreparePublic(BaseModel):
    source: str = Field(description="The canonical source being prepared.")
    status: Literal["queued", "running", "succeeded", "ready"] = Field(
        description="ready: already prepared, nothing queued; queued/running: its prepare_model job (follow it at "
        "GET /api/jobs/{job_id}); succeeded: that job just ended."
    )
    job_id: int | None = Field(None, description="The prepare_model job, when one was queued or is under way.")
    folder: str | None = Field(None, description="Where the prepared model lives, once ready.")
