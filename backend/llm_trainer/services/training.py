"""Training use cases: validate and queue a run, report the queue, stop, cancel and resume runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import AppError, Conflict, InvalidInput, NotFound
from llm_trainer.core.run_status import RunStatus
from llm_trainer.db.models import Dataset, DatasetRow, Run
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.training.data import VALIDATION_SPLIT_NAMES
from llm_trainer.services.job_records import move_run, submit_run
from llm_trainer.services.run_scheduler import kill_worker

TFIDF = "tfidf"


def _now() -> datetime:
    return datetime.now(UTC)


def _invalid(field: str, message: str, code: str = "invalid_training_config", **details: Any) -> InvalidInput:
    return InvalidInput(message, code=code, details={"field": field, **details})


def _label_counts(session: Session, dataset_id: int) -> dict[str, int]:
    stmt = (
        select(DatasetRow.label, func.count())
        .where(DatasetRow.dataset_id == dataset_id, DatasetRow.conflict.is_(False))
        .group_by(DatasetRow.label)
    )
    return {label: int(n) for label, n in session.execute(stmt)}


def _validation_rows(session: Session, dataset_id: int) -> int:
    stmt = select(func.count()).where(
        DatasetRow.dataset_id == dataset_id,
        DatasetRow.conflict.is_(False),
        func.lower(DatasetRow.split).in_(VALIDATION_SPLIT_NAMES),
    )
    return int(session.scalar(stmt) or 0)


def check_dataset(session: Session, dataset_id: int, config: TrainingConfig) -> Dataset:
    """The dataset must exist and hold at least 2 labels with enough rows to split."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise _invalid(
            "dataset_id", f"Dataset {dataset_id} does not exist; upload one or pick an id from GET /api/datasets.",
            code="dataset_not_found",
        )  # fmt: skip
    counts = _label_counts(session, dataset_id)
    validation_rows = _validation_rows(session, dataset_id) if config.validation_source == "dataset" else 0
    get_spec(dataset.task).check_trainable(counts, validation_rows, config)
    return dataset


def default_base_model(session: Session, dataset_id: int) -> str:
    """The offline base model of the dataset's task (what the CLI trains when no base model is named)."""
    dataset = session.get(Dataset, dataset_id)
    return get_spec(dataset.task if dataset else None).default_base_model


def check_base_model(
    source: str, config: TrainingConfig, roots: list[Path], max_download_bytes: int, prefer_modelscope: bool = False
) -> str:
    """The model must be obtainable now: TF-IDF, the embedded model, a complete local folder or a reachable hub id.
    Returns the canonical source stored with the run (plain hub ids go to ModelScope when it is preferred)."""
    from llm_trainer.ml.base_models.local import check_local_folder
    from llm_trainer.ml.base_models.remotes import remote_for
    from llm_trainer.ml.base_models.sources import canonical_source, parse_source

    try:
        parsed = parse_source(canonical_source(source, prefer_modelscope))
        if parsed.kind == "local":
            check_local_folder(parsed.ref, roots)
    except AppError as exc:
        raise _invalid("base_model", exc.message, code=exc.code, **exc.details) from exc
    remote = remote_for(parsed.kind)
    if remote and remote.cached_snapshot(parsed.ref) is None:
        if remote.offline():
            raise _invalid(
                "base_model",
                f"'{parsed.source}' is not in the local {remote.cache_label} and {remote.label} is switched off "
                f"({remote.offline_switch}). Pick the embedded model 'embedded:multilingual-e5-small', a local "
                "folder, or allow downloads.",
                code="model_unavailable",
            )
        _check_downloadable(remote, parsed.ref, max_download_bytes)
    if parsed.kind == "tfidf" and config.world_size > 1:
        raise _invalid("config.num_processes", "The TF-IDF baseline trains in one process; set num_processes to 1.")
    return parsed.source


def _check_model_for_task(task: str, source: str) -> None:
    problem = get_spec(task).base_model_problem(source, known_architectures(source))
    if problem:
        raise _invalid("base_model", problem, code="wrong_model_for_task", task=task)


def known_architectures(source: str) -> list[str] | None:
    """What a local folder's or an already cached hub model's config names (None: not on this machine yet)."""
    from llm_trainer.ml.base_models.kinds import folder_architectures
    from llm_trainer.ml.base_models.remotes import remote_for
    from llm_trainer.ml.base_models.sources import parse_source

    parsed = parse_source(source)
    if parsed.kind == "local":
        return folder_architectures(Path(parsed.ref))
    remote = remote_for(parsed.kind)
    snapshot = remote.cached_snapshot(parsed.ref) if remote else None
    return folder_architectures(snapshot) if snapshot else None


def _check_downloadable(remote: Any, repo_id: str, max_bytes: int) -> None:
    """A hub model not cached yet: the hub answers (else 503 with the ways out), knows it, and it fits the cap."""
    try:
        remote.files_to_download(repo_id, max_bytes)
    except InvalidInput as exc:
        raise _invalid("base_model", exc.message, code=exc.code, **exc.details) from exc


def create_run(
    session: Session, settings: Settings, *, dataset_id: int, base_model: str, config: TrainingConfig
) -> Run:
    """Validate everything, then commit a queued run (before any worker can see it)."""
    if config.time_budget_minutes is None:  # the saved run records the budget it was planned with
        config = config.model_copy(update={"time_budget_minutes": settings.cpu_time_budget_minutes})
    dataset = check_dataset(session, dataset_id, config)
    config = config.for_task(dataset.task)
    source = check_base_model(
        base_model, config, settings.model_root_paths, settings.hub_max_download_bytes, settings.use_modelscope_hub
    )
    _check_model_for_task(dataset.task, source)
    if source == TFIDF and not get_spec(dataset.task).has_baseline:
        raise _invalid(
            "base_model",
            f"Task {dataset.task} has no TF-IDF model; choose a language model (GET /api/base-models?task="
            f"{dataset.task}).",
            code="no_baseline",
        )
    name = config.run_name or f"{dataset.name} · {source.rsplit('/', 1)[-1]}"
    run = runs_repo.create_run(
        session,
        name=name[:200],
        dataset_id=dataset_id,
        task=dataset.task,
        base_model=source,
        config=config.model_dump(mode="json"),
    )
    submit_run(session, run)
    session.commit()
    return run


def get_run(session: Session, run_id: int) -> Run:
    run = runs_repo.get_run(session, run_id)
    if run is None:
        raise NotFound(f"Run {run_id} does not exist.", code="run_not_found")
    return run


def queue_status(session: Session) -> dict[str, Any]:
    """The running run(s) and the FIFO queue."""
    running = runs_repo.active_runs(session)
    return {"current": running[0] if running else None, "running": running, "queue": runs_repo.queued_runs(session)}


def stop_run(session: Session, run_id: int) -> Run:
    """Graceful stop (finish step, evaluate, save a `stopped` version); a second stop kills the worker now."""
    run = get_run(session, run_id)
    if run.status == RunStatus.QUEUED.value:
        return cancel_run(session, run_id)
    if run.status == RunStatus.STOPPING.value:
        kill_worker(run.pid, run.id)
        session.refresh(run)
        return run
    if not move_run(session, run_id, RunStatus.STOPPING, stop_requested=True, stop_requested_at=_now()):
        raise Conflict(f"Run {run_id} is {run.status}; only queued or running runs can be stopped.", code="not_running")
    session.refresh(run)
    return run


def stop_current(session: Session) -> Run:
    running = runs_repo.active_runs(session)
    if not running:
        raise Conflict("No run is training right now.", code="not_running")
    return stop_run(session, running[0].id)


def cancel_run(session: Session, run_id: int) -> Run:
    run = get_run(session, run_id)
    if not move_run(session, run_id, RunStatus.CANCELLED, finished_at=_now()):
        raise Conflict(
            f"Run {run_id} is {run.status}; only queued runs can be cancelled (stop a running one).",
            code="not_queued",
        )
    session.refresh(run)
    return run


def resume_run(session: Session, run_id: int) -> Run:
    """Put a stopped/interrupted run back in the queue; its worker continues from the last checkpoint."""
    run = get_run(session, run_id)
    _check_model_for_task(run.task, run.base_model)  # a run queued before a check existed may not pass it
    if not move_run(
        session,
        run_id,
        RunStatus.QUEUED,
        queued_at=_now(),
        stop_requested=False,
        stop_requested_at=None,
        error_message="",
        finished_at=None,
        pid=None,
        resume_count=run.resume_count + 1,
        progress={**(run.progress or {}), "stop_acknowledged": False},
    ):
        raise Conflict(
            f"Run {run_id} is {run.status}; only stopped or interrupted runs can be resumed.", code="not_resumable"
        )
    session.refresh(run)
    return run


def config_schema() -> dict[str, Any]:
    return TrainingConfig.model_json_schema()
