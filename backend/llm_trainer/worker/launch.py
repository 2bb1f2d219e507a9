"""How the scheduler starts a worker: the command line (plain or torchrun) and its environment."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

from llm_trainer.ml.training.config import TrainingConfig

PARENT_PID_ENV = "LLM_TRAINER_PARENT_PID"
LOG_NAME = "train.log"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_command(run_id: int, config: dict[str, Any]) -> list[str]:
    """One process, or `torchrun --nproc_per_node N` when several GPUs/processes are chosen."""
    world = TrainingConfig.model_validate(config).world_size
    target = ["-m", "llm_trainer.worker", str(run_id)]
    if world <= 1:
        return [sys.executable, *target]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc_per_node",
        str(world),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        *target,
    ]


def worker_env(config: dict[str, Any], data_dir: Path, database_url: str = "") -> dict[str, str]:
    """The server's environment plus the data dir and database, the owner's pid (to exit with it) and the GPUs."""
    env = {**os.environ, "LLM_TRAINER_DATA_DIR": str(Path(data_dir).resolve()), PARENT_PID_ENV: str(os.getpid())}
    if database_url:
        env["LLM_TRAINER_DATABASE_URL"] = database_url
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    cfg = TrainingConfig.model_validate(config)
    if cfg.gpu_ids:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in cfg.gpu_ids)
    elif cfg.world_size > 1:
        env["OMP_NUM_THREADS"] = "1"  # CPU DDP: the processes share the cores
    return env


def log_path(runs_dir: Path, run_id: int) -> Path:
    return runs_dir / str(run_id) / LOG_NAME


def tail(path: Path, lines: int = 40, max_bytes: int = 64_000) -> str:
    """The last `lines` lines of a (possibly large) log file."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
