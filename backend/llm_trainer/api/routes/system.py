"""`GET /api/system`: the hardware summary the web UI shows (CPU, RAM, GPUs)."""

from __future__ import annotations

from fastapi import APIRouter

from llm_trainer.api.schemas.system import SystemPublic
from llm_trainer.services.hardware import hardware_summary

router = APIRouter(tags=["system"])


@router.get("/api/system", response_model=SystemPublic, summary="Hardware summary: CPU, RAM and GPUs")
def system_info() -> SystemPublic:
    return SystemPublic(**hardware_summary())
