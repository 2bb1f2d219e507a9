"""Model versions: the spec's `GET /models` and `/api/models` (detail, rename, default, download, delete, export)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from llm_trainer.api.deps import SessionDep
from llm_trainer.api.schemas.models import (
    ExportCreate,
    ModelDetail,
    ModelPublic,
    ModelUpdate,
    VariantInfo,
    VersionSettingsUpdate,
)
from llm_trainer.api.serving_dep import ServingDep
from llm_trainer.api.streaming import ClosingStreamingResponse
from llm_trainer.db.models import ModelVersion
from llm_trainer.services import generation as generation_service
from llm_trainer.services import models as models_service
from llm_trainer.services.serving import Serving, serving_variant

router = APIRouter(tags=["models"])


def _public(
    session: Session, version: ModelVersion, serving: Serving, building: dict[int, set[str]] | None = None
) -> dict:
    return {
        "id": version.id,
        "name": version.name,
        "task": version.task,
        "kind": version.kind,
        "base_model": version.base_model,
        "status": version.status,
        "labels": list(version.labels or []),
        "key_metrics": models_service.key_metrics(version),
        "file_prediction": models_service.accepts_files(version),
        "is_default": version.is_default,
        "size_bytes": version.size_bytes,
        "created_at": version.created_at,
        "run_id": version.run_id,
        "dataset_id": version.dataset_id,
        "serving_variant": serving_variant(version),
        "variants": {k: VariantInfo(**v) for k, v in models_service.variant_infos(session, version, building).items()},
        "loaded_variants": [variant for vid, variant in serving.cache.loaded() if vid == version.id],
    }


def _detail(session: Session, version: ModelVersion, serving: Serving) -> ModelDetail:
    return ModelDetail(
        **_public(session, version, serving),
        task_settings=models_service.version_settings(serving, version),
        metrics=version.metrics or {},
        config=version.config or {},
        lineage=version.lineage or {},
    )


@router.get("/models", response_model=list[ModelPublic], summary="Model versions with key metrics (spec)")
@router.get("/api/models", response_model=list[ModelPublic], summary="Model versions with key metrics")
def list_models(session: SessionDep, serving: ServingDep) -> list[ModelPublic]:
    building = models_service.building_by_version(session)  # one query for the whole list
    return [ModelPublic(**_public(session, v, serving, building)) for v in models_service.list_models(session)]


@router.get("/api/models/{model_id}", response_model=ModelDetail, summary="One version: metrics, config, lineage")
def get_model(model_id: int, session: SessionDep, serving: ServingDep) -> ModelDetail:
    return _detail(session, models_service.get_model(session, model_id), serving)


@router.patch("/api/models/{model_id}", response_model=ModelDetail, summary="Rename, or choose the serving variant")
def update_model(model_id: int, body: ModelUpdate, session: SessionDep, serving: ServingDep) -> ModelDetail:
    version = models_service.update_model(serving, session, model_id, body.name, body.serving_variant)
    return _detail(session, version, serving)


@router.patch(
    "/api/models/{model_id}/settings", response_model=ModelDetail, summary="Edit task settings (multi-label thresholds)"
)
def update_settings(
    model_id: int, body: VersionSettingsUpdate, session: SessionDep, serving: ServingDep
) -> ModelDetail:
    version = models_service.update_version_settings(serving, session, model_id, body.model_dump(exclude_none=True))
    return _detail(session, version, serving)


@router.post("/api/models/{model_id}/default", response_model=ModelDetail, summary="Make this the default version")
def set_default(model_id: int, session: SessionDep, serving: ServingDep) -> ModelDetail:
    return _detail(session, models_service.make_default(session, model_id), serving)


@router.post(
    "/api/models/{model_id}/export",
    response_model=ModelDetail,
    status_code=202,
    summary="Build an ONNX Runtime (fp32 or int8) variant in the background",
)
def export_model(model_id: int, body: ExportCreate, session: SessionDep, serving: ServingDep) -> ModelDetail:
    return _detail(session, models_service.start_export(serving, session, model_id, body.variant), serving)


@router.get("/api/models/{model_id}/download", summary="Download the version folder as a zip")
def download_model(
    model_id: int,
    session: SessionDep,
    serving: ServingDep,
    merged: bool = Query(
        False,
        description="Generation versions: a standalone model (LoRA merged into the base weights, safetensors, "
        "tokenizer, chat template) that AutoModelForCausalLM.from_pretrained loads without peft.",
    ),
) -> ClosingStreamingResponse:
    zip_version = generation_service.merged_zip if merged else models_service.zip_model
    chunks, name = zip_version(serving, session, model_id)
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    return ClosingStreamingResponse(chunks, media_type="application/zip", headers=headers)


@router.delete("/api/models/{model_id}", status_code=204, summary="Delete a version (refused while a job uses it)")
def delete_model(model_id: int, session: SessionDep, serving: ServingDep) -> Response:
    models_service.delete_model(serving, session, model_id)
    return Response(status_code=204)
