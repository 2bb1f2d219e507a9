"""Spec training endpoints: `POST /train`, `GET /train/status`, `POST /train/stop`, plus the config schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from llm_trainer.api.deps import SessionDep, SettingsDep
from llm_trainer.api.schemas.training import RunPublic, TrainCreate, TrainStatus, TrainStop
from llm_trainer.services import training
from llm_trainer.services.runs import public_run, public_runs

router = APIRouter(tags=["training"])


def wake_scheduler(request: Request) -> None:
    jobs = getattr(request.app.state, "jobs", None)
    if jobs is not None:
        jobs.notify()


@router.post("/train", status_code=201, response_model=RunPublic, summary="Queue a training run")
def create_training(body: TrainCreate, request: Request, session: SessionDep, settings: SettingsDep) -> Any:
    run = training.create_run(
        session, settings, dataset_id=body.dataset_id, base_model=body.base_model, config=body.config
    )
    public = public_run(session, run)  # before waking the scheduler: the answer shows the queue position
    wake_scheduler(request)
    return public


@router.get("/train/status", response_model=TrainStatus, summary="The run training now and the queue")
def training_status(session: SessionDep) -> Any:
    status = training.queue_status(session)
    return {
        "current": public_run(session, status["current"]) if status["current"] else None,
        "running": public_runs(session, status["running"]),
        "queue": public_runs(session, status["queue"]),
    }


@router.post("/train/stop", response_model=RunPublic, summary="Stop the current run (a second stop kills it)")
def stop_training(session: SessionDep, body: TrainStop | None = None) -> Any:
    run = training.stop_run(session, body.run_id) if body and body.run_id else training.stop_current(session)
    return public_run(session, run)


@router.get("/api/training/config-schema", summary="JSON schema of the training config, with help texts")
def training_config_schema() -> dict[str, Any]:
    return training.config_schema()
