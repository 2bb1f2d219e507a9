"""`POST /predict` (spec) and `/api/predict`, plus batch file prediction under `/api/predict/batch`."""

from __future__ import annotations

import copy

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from llm_trainer.api.schemas.predict import (
    BatchJobPublic,
    LoadPublic,
    LoadRequest,
    PredictionPublic,
    PredictRequest,
    PredictResponse,
)
from llm_trainer.api.serving_dep import ServingDep
from llm_trainer.api.uploads import UPLOAD_OPENAPI, receive_upload
from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.variants import ServingVariant
from llm_trainer.db.models import BatchJob
from llm_trainer.services import batch_jobs, prediction
from llm_trainer.services.datasets import incoming_dir

router = APIRouter(tags=["predict"])


# Plain `def` routes run in the threadpool: model loading and inference never block the event loop.
@router.post("/predict", response_model=PredictResponse, summary="Classify one text or several (spec)")
@router.post("/api/predict", response_model=PredictResponse, summary="Classify one text or several")
def predict(body: PredictRequest, serving: ServingDep) -> PredictResponse:
    result = prediction.predict_fields(serving, body.input_fields(), body.model_id, body.variant)
    items = [PredictionPublic.model_validate(answer) for answer in prediction.public_answers(result)]
    single = items[0].model_dump() if body.single else {}
    return PredictResponse(
        task=result.task,
        model_id=result.model_id,
        model_name=result.model_name,
        variant=result.variant,
        latency_ms=round(result.latency_ms, 3),
        load_ms=None if result.load_ms is None else round(result.load_ms, 1),
        ensemble=result.served,
        predictions=items,
        **single,
    )


@router.post(
    "/api/predict/load",
    response_model=LoadPublic,
    status_code=202,
    summary="Load a version into memory in the background, so its first prediction does not wait",
)
def load_model(body: LoadRequest, serving: ServingDep) -> LoadPublic:
    model_id, variant, loaded = prediction.load_in_background(serving, body.model_id, body.variant)
    return LoadPublic(model_id=model_id, variant=variant, loaded=loaded)


def _job_public(job: BatchJob) -> BatchJobPublic:
    metrics = job.metrics or {}
    return BatchJobPublic(
        id=job.id,
        model_id=job.model_id,
        status=job.status,
        filename=job.filename,
        total=job.total,
        done=job.done,
        progress=round(job.done / job.total, 4) if job.total else (1.0 if job.status == "succeeded" else 0.0),
        text_column=metrics.get("text_column"),
        text_b_column=metrics.get("text_b_column"),
        label_column=metrics.get("label_column"),
        variant=metrics.get("variant"),
        evaluation=metrics.get("evaluation"),
        error_message=job.error_message,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


BATCH_FIELDS = {
    "model_id": {"type": "integer", "description": "Model version id (default: the default version)."},
    "variant": {"type": "string", "enum": [v.value for v in ServingVariant]},
    "text_column": {
        "type": "string",
        "description": "Column holding the texts (pairs: the first text; default: guessed).",
    },
    "text_b_column": {
        "type": "string",
        "description": "Sentence-pair versions: the second text's column (default: guessed).",
    },
    "label_column": {"type": "string", "description": "Column with true labels, for accuracy/F1 (optional)."},
}
# Same multipart body as dataset upload, with this endpoint's own form fields.
BATCH_OPENAPI = copy.deepcopy(UPLOAD_OPENAPI)
BATCH_OPENAPI["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"] = {
    "file": {"type": "string", "format": "binary"},
    **BATCH_FIELDS,
}


@router.post(
    "/api/predict/batch",
    response_model=BatchJobPublic,
    status_code=202,
    summary="Predict a whole CSV/TSV/XLSX/JSONL file in the background",
    openapi_extra=BATCH_OPENAPI,
)
async def create_batch_job(request: Request, serving: ServingDep) -> BatchJobPublic:
    # Same streaming receiver as dataset upload: the size limit is enforced while the file arrives.
    settings = serving.settings
    upload = await receive_upload(request, incoming_dir(settings), settings.max_upload_mb * 1024 * 1024)
    try:
        model_id = int(upload.text("model_id")) if upload.text("model_id") else None
    except ValueError:
        upload.path.unlink(missing_ok=True)
        raise InvalidInput("model_id must be a whole number (a version id from GET /api/models).") from None
    job = await run_in_threadpool(
        batch_jobs.start_job,
        serving,
        upload.path,
        upload.filename,
        model_id,
        upload.text("variant"),
        {role: upload.text(f"{role}_column") for role in ("text", "text_b", "label")},
    )
    return _job_public(job)


@router.get("/api/predict/batch", response_model=list[BatchJobPublic], summary="Recent batch jobs")
def list_batch_jobs(serving: ServingDep) -> list[BatchJobPublic]:
    return [_job_public(j) for j in batch_jobs.list_jobs(serving)]


@router.get("/api/predict/batch/{job_id}", response_model=BatchJobPublic, summary="Batch job status and progress")
def get_batch_job(job_id: int, serving: ServingDep) -> BatchJobPublic:
    return _job_public(batch_jobs.get_job(serving, job_id))


@router.get("/api/predict/batch/{job_id}/download", summary="Download a finished job's CSV (UTF-8 with BOM)")
def download_batch_job(job_id: int, serving: ServingDep) -> FileResponse:
    path, name = batch_jobs.result_file(serving, job_id)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=name)
