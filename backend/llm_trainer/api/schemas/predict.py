"""Request and response shapes of `POST /predict` and batch file prediction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_trainer.core.variants import ServingVariant as Variant


class TextPair(BaseModel):
    text_a: str
    text_b: str


class PredictRequest(BaseModel):
    """One input form per request; which forms a version accepts depends on its task (texts, or pairs for `pair`)."""

    text: str | None = Field(None, description="One text to classify.", examples=["这家店的菜很好吃"])
    texts: list[str] | None = Field(None, description="Several texts to classify in one call.")
    text_a: str | None = Field(None, description="Sentence-pair versions: the first text (with text_b).")
    text_b: str | None = Field(None, description="Sentence-pair versions: the second text (with text_a).")
    pairs: list[TextPair] | None = Field(None, description="Sentence-pair versions: several pairs in one call.")
    model_id: int | None = Field(None, description="Model version id; default: the default version, else the newest.")
    variant: Variant | None = Field(None, description="Serving variant; default: the one chosen for the version.")

    @model_validator(mode="after")
    def _one_input(self) -> PredictRequest:
        forms = [self.text is not None, self.texts is not None, self.text_a is not None, self.pairs is not None]
        if sum(forms) != 1 or (self.text_a is None) != (self.text_b is None):
            raise ValueError(
                'send exactly one of "text" (one string), "texts" (a list of strings), "text_a"+"text_b" '
                '(one pair) or "pairs" (a list of {"text_a","text_b"})'
            )
        return self

    @property
    def single(self) -> bool:
        return self.text is not None or self.text_a is not None

    def input_fields(self) -> dict[str, Any]:
        """The input part of the request, as the version's task reads it (`TaskSpec.clean_inputs`)."""
        return self.model_dump(include={"text", "texts", "text_a", "text_b", "pairs"}, exclude_none=True)


class LoadRequest(BaseModel):
    model_id: int | None = Field(None, description="Model version id; default: the default version, else the newest.")
    variant: Variant | None = Field(None, description="Serving variant; default: the one chosen for the version.")


class LoadPublic(BaseModel):
    """Where the version's predictor stands in this server's memory."""

    model_id: int
    variant: str
    loaded: bool = Field(description="True: in memory now; false: loading in the background (the next prediction "
                         "waits only for what is left).")  # fmt: skip


class ClassProbability(BaseModel):
    label: str
    probability: float
    threshold: float | None = Field(None, description="Multi-label: the label's decision threshold.")
    passed: bool | None = Field(None, description="Multi-label: probability >= threshold.")


class PredictionPublic(BaseModel):
    """One input's answer; the fields beyond the classification ones are set by the tasks that have them."""

    model_config = ConfigDict(extra="allow")  # a task may add its own fields (entities, generated text...)

    label: str = Field(description="Predicted label (multi-label: the passing labels joined by '|').")
    score: float = Field(description="Probability of the predicted label (multi-label: the highest probability).")
    probabilities: list[ClassProbability] = Field(description="Every class, most probable first.")
    truncated: bool = Field(description="The text was cut to the length limit before prediction.")
    windows: int | None = Field(
        None,
        description="Transformer versions: windows the text was read in. 1 = it fitted the max length; more = a "
        "longer text was split into overlapping windows whose logits were combined (mean; multi-label: max).",
    )
    labels: list[str] | None = Field(None, description="Multi-label: every label that passes its threshold.")


class EnsembleServed(BaseModel):
    model_variant: str = Field(description="The transformer variant blended in: onnx once built, else pytorch.")
    baseline: str = Field("tfidf", description="The classical model blended in: tfidf, or crf (NER, per character).")
    baseline_weight: float = Field(description="The baseline's share of the blend (0 = the model alone).")


class PredictResponse(BaseModel):
    model_config = ConfigDict(extra="allow")  # the single-input form repeats the task's own answer fields too

    task: str = "classification"
    model_id: int
    model_name: str
    variant: str
    latency_ms: float = Field(description="Server-side time for this request, model loading included.")
    load_ms: float | None = Field(None, description="Set when this request waited for the model to load.")
    ensemble: EnsembleServed | None = Field(None, description="Set when the ensemble variant answered.")
    predictions: list[PredictionPublic]
    # The single-text form answers at the top level too, so `{"text": ...}` reads naturally.
    label: str | None = None
    score: float | None = None
    probabilities: list[ClassProbability] | None = None
    truncated: bool | None = None
    windows: int | None = None
    labels: list[str] | None = None


class BatchJobPublic(BaseModel):
    id: int
    model_id: int | None
    status: str
    filename: str
    total: int
    done: int
    progress: float = Field(description="done / total, 0 before the file is read.")
    text_column: str | None = None
    text_b_column: str | None = Field(None, description="Sentence-pair versions: the second text's column.")
    label_column: str | None = None
    variant: str | None = None
    evaluation: dict[str, Any] | None = Field(None, description="Accuracy/F1 against the file's label column.")
    error_message: str = ""
    created_at: datetime
    finished_at: datetime | None = None
