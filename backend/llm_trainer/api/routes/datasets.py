"""Dataset routes: the spec's `POST /upload` and `GET /datasets`, and the resource API under /api/datasets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from llm_trainer.api.deps import SessionDep, SettingsDep
from llm_trainer.api.schemas.common import Page
from llm_trainer.api.schemas.datasets import (
    DatasetPublic,
    DatasetRowPublic,
    DatasetStats,
    DatasetSummary,
    DatasetUpdate,
)
from llm_trainer.api.uploads import UPLOAD_OPENAPI, receive_upload
from llm_trainer.services import datasets as service

router = APIRouter(tags=["datasets"])

UPLOAD_DOC = (
    "Upload a labelled file (CSV/TSV/XLSX/JSONL/JSON array; encoding detected) as multipart field `file`, with "
    "optional `name`, `description`, `task` (classification, multi_label, pair...), `text_column`, `label_column`, "
    "`text_b_column` (pairs). Returns the dataset and its validation report."
)


@router.post(
    "/upload", status_code=201, response_model=DatasetPublic, description=UPLOAD_DOC, openapi_extra=UPLOAD_OPENAPI
)
@router.post(
    "/api/datasets", status_code=201, response_model=DatasetPublic, description=UPLOAD_DOC, openapi_extra=UPLOAD_OPENAPI
)
async def upload_dataset(request: Request, session: SessionDep, settings: SettingsDep) -> DatasetPublic:
    upload = await receive_upload(request, service.incoming_dir(settings), settings.max_upload_mb * 1024 * 1024)
    dataset = await run_in_threadpool(
        service.create_from_upload,
        session,
        settings,
        upload.path,
        upload.filename,
        name=upload.text("name"),
        description=upload.text("description"),
        text_column=upload.text("text_column"),
        label_column=upload.text("label_column"),
        task=upload.text("task"),
        columns={"text_b": upload.text("text_b_column")},
    )
    return DatasetPublic.from_model(dataset)


@router.get("/datasets", response_model=list[DatasetSummary], summary="List datasets (newest first)")
@router.get("/api/datasets", response_model=list[DatasetSummary], summary="List datasets (newest first)")
def list_datasets(session: SessionDep) -> list[DatasetSummary]:
    return [DatasetSummary.from_model(d) for d in service.list_datasets(session)]


@router.get("/api/datasets/{dataset_id}", response_model=DatasetPublic)
def get_dataset(dataset_id: int, session: SessionDep) -> DatasetPublic:
    return DatasetPublic.from_model(service.get_dataset(session, dataset_id))


@router.patch("/api/datasets/{dataset_id}", response_model=DatasetPublic)
def update_dataset(dataset_id: int, body: DatasetUpdate, session: SessionDep) -> DatasetPublic:
    dataset = service.update_dataset(session, dataset_id, name=body.name, description=body.description)
    return DatasetPublic.from_model(dataset)


@router.delete("/api/datasets/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: int, session: SessionDep, settings: SettingsDep) -> Response:
    service.delete_dataset(session, settings, dataset_id)
    return Response(status_code=204)


@router.get("/api/datasets/{dataset_id}/rows", response_model=Page[DatasetRowPublic])
def dataset_rows(
    dataset_id: int,
    session: SessionDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    label: Annotated[str | None, Query(description="Only rows with this label.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Only rows whose text contains this.")] = None,
    split: Annotated[str | None, Query(description="train, validation, test, or empty for no split.")] = None,
    conflict: Annotated[bool | None, Query(description="Only rows with (true) or without conflicting labels.")] = None,
) -> Page[DatasetRowPublic]:
    result = service.preview_rows(
        session, dataset_id, page=page, page_size=page_size, label=label, q=q, split=split, conflict=conflict
    )
    items = [DatasetRowPublic.model_validate(r) for r in result.items]
    return Page[DatasetRowPublic](items=items, total=result.total, page=result.page, page_size=result.page_size)


@router.get("/api/datasets/{dataset_id}/stats", response_model=DatasetStats)
def dataset_stats(dataset_id: int, session: SessionDep) -> DatasetStats:
    return DatasetStats.model_validate(service.dataset_stats(session, dataset_id))
