"""`POST /predict` (spec) and `/api/predict`, plus batch file prediction under `/api/predict/batch`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse

from llm_trainer.api.schemas.predict import (
    BatchJobPublic,
    ClassProbability,
    PredictionPublic,
    PredictRequest,
    PredictResponse,
    Variant,
)
from llm_trainer.api.serving_dep import ServingDep
from llm_trainer.db.models import BatchJob
from llm_trainer.services import batch_jobs, prediction

router = APIRouter(tags=["predict"])


# Plain `def` routes run in the threadpool: model loading and inference never block the event loop.
@router.post("/predict", response_model=PredictResponse, summary="Classify one text or several (spec)")
@router.post("/api/predict", response_model=PredictResponse, summary="Classify one text or several")
def predict(body: PredictRequest, serving: ServingDep) -> PredictResponse:
    result = prediction.predict(serving, body.all_texts(), body.model_id, body.variant)
    items = [
        PredictionPublic(
            label=p.label,
            score=p.score,
            probabilities=[ClassProbability(label=lbl, probability=pr) for lbl, pr in p.probabilities],
            truncated=p.truncated,
        )
        for p in result.predictions
    ]
    single = items[0] if body.text is not None else None
    return PredictResponse(
        model_id=result.model_id,
        model_name=result.model_name,
        variant=result.variant,
        latency_ms=round(result.latency_ms, 3),
        load_ms=None if result.load_ms is None else round(result.load_ms, 1),
        predictions=items,
        label=single and single.label,
        score=single and single.score,
        probabilities=single and single.probabilities,
        truncated=single and single.truncated,
    )


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
        label_column=metrics.get("label_column"),
        variant=metrics.get("variant"),
        evaluation=metrics.get("evaluation"),
        error_message=job.error_message,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


@router.post("/api/predict/batch", response_model=BatchJobPublic, status_code=202, summary="Predict a whole file")
def create_batch_job(
    serving: ServingDep,
    file: Annotated[UploadFile, File(description="CSV, TSV or XLSX with a text column (and optionally a label one).")],
    model_id: Annotated[int | None, Form()] = None,
    variant: Annotated[Variant | None, Form()] = None,
    text_column: Annotated[str | None, Form()] = None,
    label_column: Annotated[str | None, Form()] = None,
) -> BatchJobPublic:
    job = batch_jobs.start_job(
        serving, file.file, file.filename or "upload.csv", model_id, variant, text_column, label_column
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
