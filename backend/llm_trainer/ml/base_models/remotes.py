"""The model hubs a source can come from (Hugging Face, ModelScope), behind one shape: callers pick the hub by the
source's kind instead of branching on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm_trainer.ml.base_models import hub, modelscope
from llm_trainer.ml.base_models.progress import ProgressCallback


@dataclass(frozen=True)
class Remote:
    label: str  # shown in messages
    cache_label: str
    cached_snapshot: Callable[[str], Path | None]
    offline: Callable[[], bool]
    offline_switch: str  # the variable that turned it off
    probe: Callable[[], str | None]
    unreachable_error: Callable[[str, str], Exception]
    list_files_to_fetch: Callable[[str], dict[str, int]]
    resolve: Callable[[str, ProgressCallback | None], Path]


REMOTES: dict[str, Remote] = {
    "hub": Remote(
        "the Hugging Face hub", "Hugging Face cache", hub.cached_snapshot, hub.hub_offline, "HF_HUB_OFFLINE",
        hub.probe, hub.unreachable_error, hub.list_files_to_fetch, hub.resolve_hub,
    ),
    "modelscope": Remote(
        "ModelScope", "ModelScope cache", modelscope.cached_snapshot, modelscope.offline, "MODELSCOPE_OFFLINE",
        modelscope.probe, modelscope.unreachable_error, modelscope.list_files_to_fetch, modelscope.resolve_modelscope,
    ),
}  # fmt: skip


def remote_for(kind: str) -> Remote | None:
    """The hub a source of this kind downloads from; None for local, embedded and TF-IDF sources."""
    return REMOTES.get(kind)
