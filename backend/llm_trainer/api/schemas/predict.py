"""Request and response shapes of `POST /predict` and batch file prediction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

Variant = Literal["pytorch", "onnx", "onnx_int8", "tfidf"]


class PredictRequest(BaseModel):
    text: str | None = Field(None, description="One text to classify.", examples=["这家店的菜很好吃"])
    texts: list[str] | None = Field(None, description="Several texts to classify in one call.")
    model_id: int | None = Field(None, description="Model version id; default: the default version, else the newest.")
    variant: Variant | None = Field(None, description="Serving variant; default: the one chosen for the version.")

    @model_validator(mode="after")
    def _one_input(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError('send exactly one of "text" (one string) or "texts" (a list of strings)')
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class ClassProbability(BaseModel):
    label: str
    probability: float


class PredictionPublic(BaseModel):
    label: str
    score: float = Field(description="Probability of the predicted label.")
    probabilities: list[ClassProbability] = Field(description="Every class, most probable first.")
    truncated: bool = Field(description="The text was cut to the length limit before prediction.")


class PredictResponse(BaseModel):
    model_id: int
    model_name: str
    variant: str
    latency_ms: float = Field(description="Server-side time for this request, model loading included.")
    load_ms: float | None = Field(None, description="Set when this request waited for the model to load.")
    predictions: list[PredictionPublic]
    # The single-text form answers at the top level too, so `{"text": ...}` reads naturally.
    label: str | None = None
    score: float | None = None
    probabilities: list[ClassProbability] | None = None
    truncated: bool | None = None


class BatchJobPublic(BaseModel):
    id: int
    model_id: int | None
    status: str
    filename: str
    total: int
    done: int
    progress: float = Field(description="done / total, 0 before the file is read.")
    text_column: str | None = None
    label_column: str | None = None
    variant: str | None = None
    evaluation: dict[str, Any] | None = Field(None, description="Accuracy/F1 against the file's label column.")
    error_message: str = ""
    created_at: datetime
    finished_at: datetime | None = None
