"""Shapes of model versions under `/api/models` (and the spec's `GET /models`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from llm_trainer.core.variants import ServingVariant


class VariantInfo(BaseModel):
    status: str = Field(description="ready | building | failed | absent")
    size_bytes: int | None = None
    accuracy_delta: float | None = Field(None, description="Accuracy change vs the PyTorch model on validation data.")
    evaluation: dict[str, Any] | None = None
    error: str | None = None


class ModelPublic(BaseModel):
    id: int
    name: str
    task: str = Field(description="classification | multi_label | pair | ner | generation")
    kind: str
    base_model: str
    status: str
    labels: list[str]
    key_metrics: dict[str, float] = Field(description="Headline numbers (accuracy, macro F1...) for the list.")
    file_prediction: bool = Field(description="POST /api/predict/batch accepts this version (its task fits a file).")
    is_default: bool
    size_bytes: int
    created_at: datetime
    run_id: int | None
    dataset_id: int | None
    serving_variant: str = Field(
        description="The variant that answers by default: the user's pick, else `ensemble` where training found the "
        "blend with the classical baseline better on validation, else the fast copy once built, else `pytorch`."
    )
    variants: dict[str, VariantInfo]
    loaded_variants: list[str] = Field(description="Variants held in memory right now.")


class ModelDetail(ModelPublic):
    task_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Editable task settings of the variant that answers by default, named in `variant` (multi-label: "
        "decision thresholds; the ensemble keeps its own).",
    )
    metrics: dict[str, Any]
    config: dict[str, Any]
    lineage: dict[str, Any]


class ModelUpdate(BaseModel):
    name: str | None = Field(None, max_length=200, description="New display name.")
    serving_variant: ServingVariant | None = Field(
        None,
        description="Variant that answers predictions for this version by default (must be built; `ensemble` only "
        "where training found the blend with the TF-IDF baseline better on validation).",
    )


class ExportCreate(BaseModel):
    variant: Literal["onnx", "onnx_int8"] = Field("onnx_int8", description="ONNX Runtime fp32, or dynamic int8.")


class VersionSettingsUpdate(BaseModel):
    thresholds: dict[str, Any] | None = Field(
        None,
        description='Multi-label: {"mode": "per_label" | "global", "global": 0.5, "per_label": {"label": 0.4}}.',
    )
