"""How the scheduler starts a worker: the command line (plain or torchrun) and its environment."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_trainer.core.config import Settings
from llm_trainer.ml.training.config import TrainingConfig

PARENT_PID_ENV = "LLM_TRAINER_PARENT_PID"
# The train job the worker beats for, and its owner (the heartbeat is refused once the job is no longer theirs).
JOB_ID_ENV = "LLM_TRAINER_JOB_ID"
JOB_OWNER_ENV = "LLM_TRAINER_JOB_OWNER"
LOG_NAME = "train.log"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Nodes:
    """How many machines a run spans and where their torchrun rendezvous is (README "Scaling out")."""

    count: int = 1
    endpoint: str = ""  # host:port of the c10d rendezvous, hosted by the server's machine
    local_addr: str = ""  # the address other nodes reach this one at (empty: its hostname)


def worker_command(run_id: int, config: dict[str, Any], nodes: Nodes = Nodes()) -> list[str]:
    """One process, or torchrun when several GPUs/processes or several machines are chosen."""
    world = TrainingConfig.model_validate(config).world_size
    if world <= 1 and nodes.count <= 1:
        return [sys.executable, "-m", "llm_trainer.worker", str(run_id)]
    return torchrun_command(run_id, world, nodes)


def torchrun_command(run_id: int, nproc: int, nodes: Nodes, *, joining: bool = False) -> list[str]:
    """`torchrun` for one run: a local master on one machine; on several, the c10d rendezvous that the server's
    machine hosts and the other nodes join (`joining`: never try to host it, even on the same host)."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc)]
    target = ["-m", "llm_trainer.worker", str(run_id)]
    if nodes.count <= 1:
        return [*launcher, "--nnodes", "1", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *target]
    launcher += ["--nnodes", str(nodes.count), "--rdzv-backend", "c10d", "--rdzv-endpoint", nodes.endpoint]
    launcher += ["--rdzv-id", f"llm-trainer-run-{run_id}"]
    if nodes.local_addr:
        launcher += ["--local-addr", nodes.local_addr]
    if joining:
        launcher += ["--rdzv-conf", "is_host=false"]
    return [*launcher, *target]


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


def job_of_env() -> tuple[int | None, str]:
    """(job id, owner) the scheduler gave this worker; (None, '') when started by hand (no heartbeat)."""
    job_id = os.environ.get(JOB_ID_ENV, "")
    return (int(job_id) if job_id.isdigit() else None), os.environ.get(JOB_OWNER_ENV, "")


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


def nodes_of(settings: Settings) -> Nodes:
    return Nodes(settings.nnodes, settings.rdzv_endpoint, settings.node_addr)
