"""Chat use cases: find a chat model by id or name, answer a conversation whole or as a stream of text pieces,
download a version as a standalone (merged) model.

Serves every version whose task generates text (`TaskSpec.generates_text`); the loaded model comes from the shared
model cache (one load per version and variant), and prompts go through the version's own chat template.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from llm_trainer.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from llm_trainer.db.base import session_scope
from llm_trainer.db.models import ModelVersion
from llm_trainer.db.repositories import versions_query
from llm_trainer.ml.tasks.generation.merge import is_adapter, merged_size_estimate, write_merged
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.services.archive import stream_zip
from llm_trainer.services.serving import Serving, check_variant, find_version, loaded_model, version_dir

MAX_NEW_TOKENS = 4096


def _chat_capable(version: ModelVersion) -> bool:
    try:
        return get_spec(version.task).generates_text
    except InvalidInput:  # a task this build no longer has
        return False


def chat_versions(serving: Serving) -> list[ModelVersion]:
    """Versions that answer chat requests, newest first."""
    with session_scope(serving.session_factory) as session:
        versions = [v for v in versions_query.list_versions(session) if _chat_capable(v)]
        session.expunge_all()
    return versions


def find_chat_version(serving: Serving, model: str | int | None) -> ModelVersion:
    """The version named by id ('3', 3) or exact name (the newest of that name); None = the newest chat model."""
    text = "" if model is None else str(model).strip()
    with session_scope(serving.session_factory) as session:
        version = versions_query.get_version(session, int(text)) if text.isdigit() else None
        if version is not None:
            session.expunge(version)
    versions = chat_versions(serving) if version is None else []  # an id needs no listing (every request names one)
    if not text:
        if not versions:
            raise NotFound(
                "No generation model exists yet. Train one (task generation), then chat.", code="no_chat_model"
            )
        return versions[0]
    version = version or next((v for v in versions if v.name == text), None)
    if version is None:
        raise NotFound(
            f"Model '{text}' does not exist. Use a version id or name from GET /v1/models.",
            code="model_not_found",
            details={"available": [str(v.id) for v in versions[:20]]},
        )
    if not _chat_capable(version):
        raise InvalidInput(
            f"Version {version.id} is a {version.task} model; chat needs a generation version (GET /v1/models).",
            code="not_a_chat_model",
        )
    return version


@dataclass
class ChatCall:
    """A prepared request: the version, its loaded generator and the cleaned request."""

    version: ModelVersion
    generator: Any  # ml.tasks.generation.predictor.ChatGenerator
    request: Any  # ml.tasks.generation.predictor.ChatRequest
    load_ms: float | None
    started: float


def prepare(serving: Serving, model: str | int | None, fields: dict[str, Any], variant: str | None = None) -> ChatCall:
    """Validate the conversation and sampling fields against the version's task, and load the model."""
    started = time.perf_counter()
    version = find_chat_version(serving, model)
    chosen = check_variant(version, variant)
    max_new = fields.get("max_new_tokens")
    if max_new is not None and not 1 <= int(max_new) <= MAX_NEW_TOKENS:
        raise InvalidInput(f"max_tokens must be between 1 and {MAX_NEW_TOKENS}.", code="invalid_max_tokens")
    settings = serving.settings
    [request], _ = get_spec(version.task).clean_inputs(fields, 1, settings.predict_max_chars)
    entry, load_ms = loaded_model(serving, version, chosen)
    return ChatCall(version, entry.predictor, request, load_ms, started)


def complete(call: ChatCall) -> Any:
    """The whole answer (ChatAnswer)."""
    return call.generator.predict([call.request])[0]


def stream(call: ChatCall) -> Any:
    """An iterable of text pieces; its `answer` is set when it is exhausted."""
    return call.generator.stream(call.request)


_merging = threading.Lock()  # one merged model on disk at a time: each is as large as its base model
DISK_MARGIN = 512 * 1024 * 1024


def merged_zip(serving: Serving, session: Session, model_id: int) -> tuple[Iterator[bytes], str]:
    """A generation version as a standalone model zip: a LoRA version is merged into its base weights first (in a
    scratch folder removed once the download ends or is abandoned); a fully fine-tuned one already is one."""
    version = find_version(session, model_id)
    folder = version_dir(serving.settings, version)
    if not _chat_capable(version):
        raise InvalidInput(
            f"Version {model_id} is a {version.task} model; only generation versions have a merged download.",
            code="not_mergeable",
        )
    if not folder.is_dir():
        raise InvalidInput(
            f"The files of model version {model_id} are missing from the data dir; delete the version.",
            code="model_files_missing",
        )
    name = f"model-{model_id}-merged.zip"
    if not is_adapter(folder):
        return stream_zip(folder), name
    scratch_root = serving.settings.cache_dir
    scratch_root.mkdir(parents=True, exist_ok=True)
    needed = merged_size_estimate(folder) + DISK_MARGIN
    if shutil.disk_usage(scratch_root).free < needed:
        raise Unavailable(
            f"Not enough free disk to write the merged model (needs about {needed // 2**20} MB in the data dir). "
            "Free some space, then download again.",
            code="disk_full",
        )
    if not _merging.acquire(blocking=False):
        raise Conflict(
            "Another merged model is being prepared or downloaded; try again when it is done.", code="merge_running"
        )
    scratch = Path(tempfile.mkdtemp(prefix=".merge-", dir=scratch_root))
    cleanup = _Cleanup(scratch)
    try:
        write_merged(folder, scratch)
    except BaseException:
        cleanup()
        raise
    return _removed_after(stream_zip(scratch), cleanup), name


class _Cleanup:
    """Remove the scratch folder and free the merge slot, once (download ended, abandoned or failed)."""

    def __init__(self, scratch: Path) -> None:
        self.scratch, self.done = scratch, False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            shutil.rmtree(self.scratch, ignore_errors=True)
            _merging.release()


def _removed_after(chunks: Iterator[bytes], cleanup: _Cleanup) -> Iterator[bytes]:
    def stream() -> Iterator[bytes]:
        try:
            yield from chunks
        finally:
            cleanup()

    out = stream()
    weakref.finalize(out, cleanup)  # a response never started still frees the slot when it is dropped
    return out
