"""The model hubs a source can come from (Hugging Face, ModelScope), behind one shape: callers pick the hub by the
source's kind instead of branching on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm_trainer.core.errors import InvalidInput
from llm_trainer.ml.base_models import hub, modelscope
from llm_trainer.ml.base_models.hub import check_download_size
from llm_trainer.ml.base_models.local import folder_problems
from llm_trainer.ml.base_models.progress import ProgressCallback, report
from llm_trainer.ml.base_models.sources import MODELSCOPE_PREFIX


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
    download: Callable[[str, dict[str, int], ProgressCallback | None], Path]
    prefix: str  # what a source string puts before the id ("" for the HF hub)

    def files_to_download(self, repo_id: str, max_bytes: int | None = None) -> tuple[dict[str, int], int]:
        """Name -> size of what a download fetches, and the total: the site answers (else the unreachable error with
        the ways out), knows the id and the files fit the cap (named errors otherwise)."""
        why = self.probe()
        if why:
            raise self.unreachable_error(repo_id, why)
        files = self.list_files_to_fetch(repo_id)
        return files, check_download_size(self.prefix + repo_id, files, max_bytes)

    def resolve(self, repo_id: str, progress: ProgressCallback | None = None) -> Path:
        """A local folder for `repo_id`: the cached snapshot, else a size-checked download of the files we need."""
        cached = self.cached_snapshot(repo_id)
        if cached is not None:
            report(progress, "cached", 1, 1)
            return cached
        files, total = self.files_to_download(repo_id)
        folder = self.download(repo_id, files, progress)
        if folder_problems(folder):
            raise InvalidInput(
                f"'{self.prefix}{repo_id}' on {self.label} lacks files we need: {', '.join(folder_problems(folder))}.",
                code="model_folder_incomplete",
                details={"source": self.prefix + repo_id},
            )
        report(progress, "download", total or 1, total or 1)
        return folder


REMOTES: dict[str, Remote] = {
    "hub": Remote(
        "the Hugging Face hub", "Hugging Face cache", hub.cached_snapshot, hub.hub_offline, "HF_HUB_OFFLINE",
        hub.probe, hub.unreachable_error, hub.list_files_to_fetch, hub.download, "",
    ),
    "modelscope": Remote(
        "ModelScope", "ModelScope cache", modelscope.cached_snapshot, modelscope.offline, "MODELSCOPE_OFFLINE",
        modelscope.probe, modelscope.unreachable_error, modelscope.list_files_to_fetch, modelscope.download,
        MODELSCOPE_PREFIX,
    ),
}  # fmt: skip


def remote_for(kind: str) -> Remote | None:
    """The hub a source of this kind downloads from; None for local, embedded and TF-IDF sources."""
    return REMOTES.get(kind)
