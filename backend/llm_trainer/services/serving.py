"""What the serving use cases share in one process: settings, DB sessions, the model cache."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from llm_trainer.core.config import Settings
from llm_trainer.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from llm_trainer.core.variants import is_offered
from llm_trainer.db.models import ModelVersion
from llm_trainer.db.repositories import versions_query
from llm_trainer.ml.inference.cache import Key, LoadedModel, ModelCache
from llm_trainer.ml.inference.loading import ENSEMBLE, EXPORT_VARIANTS, TFIDF
from llm_trainer.ml.tasks.registry import get_spec

log = logging.getLogger(__name__)


@dataclass
class Serving:
    """Created once per app (or CLI call); routes and jobs reach the cache and the store through it."""

    settings: Settings
    session_factory: sessionmaker[Session]
    cache: ModelCache = field(init=False)
    # The dispatcher's wake-up (set by the app): a queued job starts at once instead of at the next tick.
    notify_jobs: Callable[[], None] = field(default=lambda: None)

    # Background loads run one at a time, the latest wish first: a page flicking through versions never loads many
    # models at once (memory), and the one the user stopped on is loaded next.
    _wanted: tuple[Key, Callable[[], object]] | None = field(init=False, default=None)
    _loader_busy: bool = field(init=False, default=False)
    _background_lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.cache = ModelCache(self.settings.model_cache_size)

    def in_background(self, key: Key, load: Callable[[], object]) -> None:
        """Queue `load` for the one background loader (replacing a wish it has not started), starting it if idle."""
        with self._background_lock:
            self._wanted = (key, load)
            if self._loader_busy:
                return
            self._loader_busy = True
        threading.Thread(target=self._load_wanted, name="background-load", daemon=True).start()

    def _load_wanted(self) -> None:
        while True:
            with self._background_lock:
                if self._wanted is None:
                    self._loader_busy = False
                    return
                (version_id, variant), load = self._wanted
                self._wanted = None
            try:
                load()
            except Exception as exc:  # noqa: BLE001 - a warm-up never fails a request; the prediction reports it
                log.warning("loading model version %s (%s) in the background failed: %s", version_id, variant, exc)

    def close(self) -> None:
        self.cache.clear()


def version_dir(settings: Settings, version: ModelVersion) -> Path:
    """Versions record their folder absolute, or relative to the models (or data) dir."""
    path = Path(version.path)
    if path.is_absolute():
        return path
    under_data = settings.data_dir / path
    return under_data if under_data.exists() else settings.models_dir / path


def find_version(session: Session, model_id: int | None) -> ModelVersion:
    """The asked-for version, or the default one when `model_id` is None."""
    if model_id is None:
        version = versions_query.default_version(session)
        if version is None:
            raise Conflict(  # the client's state, not the server's health: 409, not 503
                "No trained model exists yet. Train one first (POST /train), then predict.", code="no_model"
            )
        return version
    version = versions_query.get_version(session, model_id)
    if version is None:
        raise _not_found(model_id)
    return version


def _not_found(model_id: int) -> NotFound:
    return NotFound(
        f"Model version {model_id} does not exist. List versions with GET /api/models.", code="model_not_found"
    )


def _still_exists(serving: Serving, model_id: int) -> bool:
    with serving.session_factory() as session:
        return versions_query.get_version(session, model_id) is not None


def serving_variant(version: ModelVersion) -> str:
    """The variant the user chose to serve for this version, else its task's default (the ensemble with its classical
    baseline where training found it better on validation; else PyTorch, or the fast copy once built)."""
    if version.kind == TFIDF:
        return TFIDF
    # A task's own classical kind (NER's CRF) serves with its spec's default variant.
    chosen = (version.exports or {}).get("serving_variant")
    return chosen or get_spec(version.task).default_variant(version.kind, version.metrics or {})


def check_variant(version: ModelVersion, variant: str | None) -> str:
    """Validate a requested variant against what this version offers and has built."""
    chosen = variant or serving_variant(version)
    offered = get_spec(version.task).variants(version.kind)
    if chosen not in offered:
        raise InvalidInput(
            f"Variant '{chosen}' is not available for version {version.id}; choose one of {', '.join(offered)}.",
            code="unknown_variant",
            details={"variants": list(offered)},
        )
    if chosen == ENSEMBLE and not ensemble_offered(version):
        raise InvalidInput(
            ensemble_absent_reason(version), code="variant_not_offered", details={"variants": list(offered)}
        )
    if chosen in EXPORT_VARIANTS:
        info = ((version.exports or {}).get("variants") or {}).get(chosen) or {}
        if info.get("status") != "ready":
            raise InvalidInput(
                f"Variant '{chosen}' of version {version.id} is not built yet. "
                f'Build it with POST /api/models/{version.id}/export {{"variant": "{chosen}"}}.',
                code="variant_not_built",
            )
    return chosen


def ensemble_offered(version: ModelVersion) -> bool:
    """True when training found a blend with the classical baseline (TF-IDF; NER: CRF) that beats the transformer
    alone on validation."""
    return is_offered(version.metrics or {})


def ensemble_absent_reason(version: ModelVersion) -> str:
    record = (version.metrics or {}).get("ensemble")
    if not record:
        return (
            f"Version {version.id} has no ensemble: it was trained before ensembles existed or without its classical "
            "baseline. Train it again to get one."
        )
    primary = record["primary_metric"]
    return (
        f"The ensemble of version {version.id} with its classical baseline does not beat the model alone on validation "
        f"({primary} {record['metrics'].get(primary, 0):.4f} vs {record['model_value']:.4f}), so it is not offered; "
        "serve the model itself."
    )


def fixed_variant_info(version: ModelVersion, name: str) -> dict:
    """The state of a variant no export job builds: ready, except an ensemble training did not find worth serving
    (its validation record is given either way, for the model page)."""
    if name != ENSEMBLE:
        return {"status": "ready"}
    record = (version.metrics or {}).get("ensemble")
    if ensemble_offered(version):
        return {"status": "ready", "evaluation": record}
    return {"status": "absent", "evaluation": record, "error": ensemble_absent_reason(version)}


def loaded_model(serving: Serving, version: ModelVersion, variant: str) -> tuple[LoadedModel, float | None]:
    """Get the version's predictor from the cache, loading it on first use; returns (entry, load wait ms)."""
    folder = version_dir(serving.settings, version)

    def load():  # noqa: ANN202
        try:
            return get_spec(version.task).load_predictor(folder, version.kind, variant)
        except (FileNotFoundError, OSError, InvalidInput) as exc:
            # Deleted after this request read its row: the folder vanished under the loader, which reports it as a
            # missing file or as a model folder short of its files (InvalidInput model_folder_incomplete).
            if not _still_exists(serving, version.id):
                raise _not_found(version.id) from exc
            if isinstance(exc, InvalidInput):
                raise
            raise Unavailable(
                f"The files of model version {version.id} are missing or unreadable in the data dir. "
                "Delete this version and train it again.",
                code="model_files_missing",
            ) from exc

    entry, waited_ms = serving.cache.get((version.id, variant), load)
    if waited_ms is not None:
        log.info("model version %s (%s) loaded in %.0f ms; this request waited %.0f ms", version.id, variant,
                 entry.load_ms, waited_ms)  # fmt: skip
    return entry, waited_ms
