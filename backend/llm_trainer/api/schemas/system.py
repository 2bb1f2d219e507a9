"""Hardware summary shapes for `GET /api/system`."""

from __future__ import annotations

from pydantic import BaseModel, Field


class GpuPublic(BaseModel):
    index: int
    name: str
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None


class SystemPublic(BaseModel):
    cpu_count: int = Field(description="Logical CPU cores.")
    cpu_percent: float = Field(description="Whole-machine CPU use since the previous call, in percent.")
    memory_total_bytes: int
    memory_available_bytes: int
    torch_available: bool
    cuda_available: bool
    mps_available: bool
    gpus: list[GpuPublic]
