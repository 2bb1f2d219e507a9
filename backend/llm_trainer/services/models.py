"""Model version management: list, detail, rename, default, serving variant, zip download, delete, ONNX/int8 export."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import Conflict, InvalidInput, Stopping
from llm_trainer.core.jobs import ExportParams, JobKind, JobResult, JobStatus
from llm_trainer.core.variants import blend_score, is_offered
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import ModelVersion
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import versions_query
from llm_trainer.db.repositories.datasets import task_rows
from llm_trainer.ml.inference.export import EVAL_SAMPLE_CAP, built_by
from llm_trainer.ml.inference.loading import ENSEMBLE, EXPORT_VARIANTS, ONNX, TFIDF
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.ml.tasks.spec import ExportCheck, TaskRow
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.version_store import read_reference
from llm_trainer.services.archive import stream_zip
from llm_trainer.services.jobs import JobContext
from llm_trainer.services.serving import (
    Serving,
    check_variant,
    find_version,
    fixed_variant_info,
    serving_variant,
    version_dir,
)

log = logging.getLogger(__name__)


def list_models(session: Session) -> list[ModelVersion]:
    return versions_query.list_versions(session)


KEY_METRICS = ("accuracy", "macro_f1", "weighted_f1", "truncation_share")


def key_metrics(version: ModelVersion) -> dict[str, float]:
    """Headline numbers for the list: the version's scores, its baseline's on the same split and its blend's key one."""
    metrics = version.metrics or {}
    keys = (*get_spec(version.task).headline_metrics, *KEY_METRICS)
    out = {k: float(metrics[k]) for k in dict.fromkeys(keys) if isinstance(metrics.get(k), int | float)}
    baseline = metrics.get("baseline") or {}
    for k in dict.fromkeys((*get_spec(version.task).headline_metrics, "accuracy", "macro_f1")):
        if isinstance(baseline.get(k), int | float):
            out[f"baseline_{k}"] = float(baseline[k])
    if is_offered(metrics):  # what the version answers with when it serves the blend
        record, primary = metrics["ensemble"], get_spec(version.task).primary_metric
        blended = record.get("metrics") or {}
        if isinstance(blended.get("macro_f1"), int | float):
            out["ensemble_macro_f1"] = float(blended["macro_f1"])
        if (value := blend_score(record, primary)) is not None:
            out[f"ensemble_{primary}"] = value
    return out


def accepts_files(version: ModelVersion) -> bool:
    """Whether file prediction (POST /api/predict/batch) takes this version: its task says so."""
    return get_spec(version.task).file_prediction


def get_model(session: Session, model_id: int) -> ModelVersion:
    return find_version(session, model_id)


def update_model(
    serving: Serving, session: Session, model_id: int, name: str | None = None, serving_variant: str | None = None
) -> ModelVersion:
    """Rename a version and/or choose which variant answers its predictions by default."""
    version = find_version(session, model_id)
    if name is not None:
        if not name.strip():
            raise InvalidInput(
                "The name is empty. Give the version a name of at least one character.", code="empty_name"
            )
        version.name = name.strip()
    if serving_variant is not None:
        check_variant(version, serving_variant)
        version.exports = {**(version.exports or {}), "serving_variant": serving_variant}
    session.flush()
    return version


def make_default(session: Session, model_id: int) -> ModelVersion:
    version = find_version(session, model_id)
    versions_query.set_default(session, version)
    return version


def delete_model(serving: Serving, session: Session, model_id: int) -> None:
    """Refuse while a batch job or an export uses the version; else cancel its queued exports, unload it and remove
    its row and files."""
    version = find_version(session, model_id)
    busy = versions_query.active_batch_jobs(session, model_id)
    if busy:
        raise Conflict(
            f"Model version {model_id} is used by {busy} running batch prediction job(s). "
            "Wait for them to finish, then delete it.",
            code="model_in_use",
            details={"active_jobs": busy},
        )
    exports = [
        job for job in jobs_repo.unfinished(session, JobKind.EXPORT)
        if ExportParams.model_validate(job.params).version_id == model_id
    ]  # fmt: skip
    if any(job.status == JobStatus.RUNNING.value for job in exports):
        raise Conflict(
            f"A fast copy of model version {model_id} is being built. Wait for it to finish (seconds to a "
            "minute), then delete the version.",
            code="model_in_use",
            details={"active_jobs": len(exports)},
        )
    for job in exports:  # queued builds of a version that is going away
        jobs_repo.transition(session, job.id, JobStatus.QUEUED, JobStatus.CANCELLED, error_message="Version deleted.")
    folder = version_dir(serving.settings, version)
    serving.cache.evict(model_id)
    versions_query.delete_version(session, version)
    session.commit()  # the row goes first: a half-deleted folder must never look like a usable version
    shutil.rmtree(folder, ignore_errors=True)
    serving.cache.evict(model_id)  # a request that read the row before the delete may have loaded it again


def zip_model(serving: Serving, session: Session, model_id: int) -> tuple[Iterator[bytes], str]:
    """The version folder (weights, tokenizer, config, llm_trainer.json) as a zip stream, and its file name."""
    version = find_version(session, model_id)
    folder = version_dir(serving.settings, version)
    if not folder.is_dir():
        raise InvalidInput(
            f"The files of model version {model_id} are missing from the data dir; delete the version.",
            code="model_files_missing",
        )
    return stream_zip(folder), f"model-{model_id}.zip"


def building_by_version(session: Session) -> dict[int, set[str]]:
    """Variants queued or running export jobs are building, per version (int8 builds fp32 on the way): one query,
    so a list of versions costs no query per version."""
    building: dict[int, set[str]] = {}
    for job in jobs_repo.unfinished(session, JobKind.EXPORT):
        params = ExportParams.model_validate(job.params)
        building.setdefault(params.version_id, set()).update(built_by(params.variant))
    return building


def queued_exports(session: Session, version_id: int) -> list[int]:
    """Ids of this version's export jobs still waiting in the queue."""
    jobs = jobs_repo.unfinished(session, JobKind.EXPORT)
    return [
        job.id for job in jobs
        if job.status == JobStatus.QUEUED.value and ExportParams.model_validate(job.params).version_id == version_id
    ]  # fmt: skip


def variant_infos(
    session: Session, version: ModelVersion, building: dict[int, set[str]] | None = None
) -> dict[str, dict[str, Any]]:
    """Every variant this version offers with its state: built ones (ready/failed) are recorded on the version,
    `building` comes from its export jobs (a record left `building` by an old server shows as failed). Lists pass
    `building_by_version` once for all their versions."""
    built = (version.exports or {}).get("variants") or {}
    now_building = (building if building is not None else building_by_version(session)).get(version.id, set())
    infos = {}
    for name in get_spec(version.task).variants(version.kind):
        built_here = {"status": "absent", **built.get(name, {})} if name in EXPORT_VARIANTS else None
        info = built_here or fixed_variant_info(version, name)
        if name in now_building and info["status"] != "ready":
            info = {"status": "building"}
        elif info["status"] == "building":
            info = {"status": "failed", "error": "The server restarted during the export. Build it again."}
        infos[name] = info
    return infos


def start_export(serving: Serving, session: Session, model_id: int, variant: str) -> ModelVersion:
    """Queue an export job (it takes seconds to a minute); the variant shows `building` until it ends."""
    version = find_version(session, model_id)
    if version.kind == TFIDF:
        raise InvalidInput(
            "TF-IDF versions are already fast; only transformer versions can be exported.", code="not_exportable"
        )
    if variant in EXPORT_VARIANTS and variant not in get_spec(version.task).variants(version.kind):
        raise InvalidInput(
            f"Versions of task '{version.task}' have no '{variant}' copy to build; they are served as they are.",
            code="not_exportable",
        )
    if variant not in EXPORT_VARIANTS:
        raise InvalidInput(
            f"Unknown export '{variant}'; choose one of {', '.join(EXPORT_VARIANTS)}.", code="unknown_variant"
        )
    if variant in building_by_version(session).get(model_id, set()):
        raise Conflict(f"Variant '{variant}' of version {model_id} is already being built.", code="export_running")
    jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=model_id, variant=variant))
    session.commit()
    serving.notify_jobs()
    return version


def _set_variant(version: ModelVersion, variant: str, info: dict[str, Any]) -> None:
    exports = dict(version.exports or {})
    exports["variants"] = {**(exports.get("variants") or {}), variant: info}
    version.exports = exports  # reassign: JSON columns do not notice in-place changes


def run_export(serving: Serving, ctx: JobContext) -> JobResult:
    """The dispatcher's handler: build and score the graphs against PyTorch, record them on the version; raises when
    one failed. The reference is what training saved with the version (PyTorch's own validation answers), else
    PyTorch is run on the rebuilt validation split. A fast-serving job (queued by training) then makes the copy the
    version's serving variant when it is lossless; until then the version answers with PyTorch."""
    from llm_trainer.ml.inference.export import failed_record, is_lossless, ready_record

    params: ExportParams = ctx.params  # type: ignore[assignment]
    model_id, variant = params.version_id, params.variant
    with session_scope(serving.session_factory) as session:
        version = find_version(session, model_id)
        folder, spec = version_dir(serving.settings, version), get_spec(version.task)
        ready = {n for n, info in variant_infos(session, version).items() if info["status"] == "ready"}
        saved = read_reference(folder)
        if saved is None:  # the reference run reads long texts as served (windowed)
            check = ExportCheck(*validation_sample(session, version))
        else:
            reference = (np.asarray(saved.probs), saved.classes)
            check = ExportCheck(saved.texts, saved.labels, reference, saved.windowed)
    error: Exception | None = None
    started = time.monotonic()
    try:
        with ctx.beating("exporting"):
            reports = spec.export_and_compare(folder, variant, check, ctx.stopping)
        infos = {name: ready_record(folder, name, report) for name, report in reports.items()}
        infos[variant]["build_seconds"] = round(time.monotonic() - started, 1)
    except Stopping:
        raise  # not a failure: nothing recorded, the dispatcher queues the job again
    except Exception as exc:  # recorded on the version for the user, and on the job
        log.exception("export of version %s as %s failed", model_id, variant)
        error = exc
        # a ready fp32 graph stays ready when only its int8 quantisation failed
        infos = {name: failed_record(exc) for name in built_by(variant) if name == variant or name not in ready}
    with session_scope(serving.session_factory) as session:
        version = versions_query.get_version(session, model_id)
        if version is not None:
            for name, info in infos.items():
                serving.cache.evict(model_id, name)  # a rebuilt graph must not be served from the old session
                serving.cache.evict(model_id, ENSEMBLE)  # the ensemble switches to the ONNX copy
                _set_variant(version, name, info)
            chosen = (version.exports or {}).get("serving_variant")  # the user's own choice wins
            # A version answering with its ensemble by default keeps it: the blend reads the fast copy from now on.
            blended = get_spec(version.task).default_variant(version.kind, version.metrics or {}) == ENSEMBLE
            if params.fast_serving and error is None and not chosen and not blended and is_lossless(reports[variant]):
                version.exports = {**(version.exports or {}), "serving_variant": variant}
                serving.cache.evict(model_id)  # the PyTorch copy loaded meanwhile is no longer served
    if error is not None:
        raise error
    log.info("version %s: %s built and compared in %.1f s", model_id, variant, time.monotonic() - started)
    return JobResult(version_id=model_id)


def queue_missing_fast_serving(settings: Settings, session: Session) -> list[int]:
    """Start-up repair: a finished version that training saved for fast serving (its config asks for it and its
    folder holds the validation reference) but that has neither an ONNX record nor an export job gets its export
    job. Training queues that job in the version row's own transaction, so this only catches versions written
    otherwise (a crash of an older writer, a restored backup). Returns the version ids."""
    exported = {
        ExportParams.model_validate(job.params).version_id for job in jobs_repo.of_kind(session, JobKind.EXPORT)
    }
    queued = []
    for version in versions_query.list_versions(session):
        variants = (version.exports or {}).get("variants") or {}
        wanted = (
            version.status == "succeeded"
            and (version.config or {}).get("fast_serving") is True
            and ONNX in get_spec(version.task).variants(version.kind)
            and ONNX not in variants
            and version.id not in exported
            and read_reference(version_dir(settings, version)) is not None
        )
        if wanted:
            params = ExportParams(version_id=version.id, variant=ONNX, fast_serving=True)
            jobs_repo.submit(session, JobKind.EXPORT, params)
            queued.append(version.id)
    return queued


def validation_sample(session: Session, version: ModelVersion) -> tuple[list[Any], list[str] | None]:
    """The version's validation inputs rebuilt by its task from its dataset and training config (pairs as two texts;
    labels only where they are single strings), else a sample of the dataset."""
    rows = [TaskRow(*r) for r in task_rows(session, version.dataset_id)] if version.dataset_id else []
    if not rows:
        return [], None
    try:
        data = get_spec(version.task).prepare(rows, TrainingConfig.model_validate(version.config or {}))
        texts, labels = list(data.val_texts), getattr(data, "val_labels", None)
    except (ValueError, InvalidInput):  # a config of an older shape, or too few rows to split
        texts, labels = [r.text for r in rows], [r.label for r in rows]
    if labels is not None and not all(isinstance(label, str) for label in labels):
        labels = None  # label sets (multi-label) are compared on probabilities alone
    return texts[:EVAL_SAMPLE_CAP], (labels[:EVAL_SAMPLE_CAP] if labels is not None else None)


def version_settings(serving: Serving, version: ModelVersion) -> dict[str, Any]:
    """The task's editable settings of the variant that answers by default (multi-label thresholds: the ensemble keeps
    its own), {} for tasks without any."""
    return get_spec(version.task).version_settings(version_dir(serving.settings, version), serving_variant(version))


def update_version_settings(
    serving: Serving, session: Session, model_id: int, settings: dict[str, Any]
) -> ModelVersion:
    """Store new task settings of the variant that answers by default in the version folder; loaded copies are dropped
    so the next request uses them."""
    version = find_version(session, model_id)
    folder = version_dir(serving.settings, version)
    get_spec(version.task).update_version_settings(folder, serving_variant(version), settings)
    serving.cache.evict(model_id)
    return version
