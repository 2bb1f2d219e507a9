"""ModelScope sources (`modelscope:<owner>/<name>`): ModelScope's own cache first, a short reachability probe, then
the `modelscope` package's snapshot download of the files we need, with byte progress and the same size cap.

Honours MODELSCOPE_ENDPOINT (another ModelScope site or a mirror), MODELSCOPE_CACHE (where files are cached, default
~/.cache/modelscope) and MODELSCOPE_OFFLINE, read at call time like the Hugging Face source (hub.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from llm_trainer.core.errors import InvalidInput, Unavailable
from llm_trainer.ml.base_models.hub import PROBE_TIMEOUT_S, files_to_fetch
from llm_trainer.ml.base_models.local import folder_problems
from llm_trainer.ml.base_models.progress import ProgressCallback, report
from llm_trainer.ml.base_models.sources import MODELSCOPE_PREFIX as PREFIX

DEFAULT_ENDPOINT = "https://www.modelscope.cn"


def endpoint() -> str:
    return (os.environ.get("MODELSCOPE_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    return (os.environ.get("MODELSCOPE_OFFLINE") or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def unreachable_error(repo_id: str, why: str) -> Unavailable:
    """The one message for 'ModelScope cannot be reached', with the ways out."""
    return Unavailable(
        f"Cannot download '{PREFIX}{repo_id}' from {endpoint()} ({why}) and it is not in the ModelScope cache. "
        "Check the network (or MODELSCOPE_ENDPOINT), pick the same model from the Hugging Face hub or a local "
        "folder, or use the embedded offline model 'embedded:multilingual-e5-small'.",
        code="hub_unreachable",
        details={"source": PREFIX + repo_id, "endpoint": endpoint(), "reason": why},
    )


def cache_root() -> Path:
    """ModelScope's cache, as its client chooses it (MODELSCOPE_CACHE, else ~/.cache/modelscope)."""
    return Path(os.environ.get("MODELSCOPE_CACHE") or Path.home() / ".cache" / "modelscope").expanduser()


def cached_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot of `repo_id` when config, weights and tokenizer are all in ModelScope's cache."""
    if not (cache_root() / "models" / repo_id.replace("/", "--")).is_dir():
        return None  # never cached: answer without importing the client (listing presets stays fast)
    from modelscope.hub.snapshot_download import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=str(cache_root())))
    except Exception:  # noqa: BLE001 - any cache miss (none, partial, other layout) means "not cached"
        return None
    return folder if not folder_problems(folder) else None


def probe(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when ModelScope answers within `timeout` (any HTTP status), else the reason it does not."""
    if offline():
        return "MODELSCOPE_OFFLINE is set"
    import requests

    try:
        requests.head(f"{endpoint()}/api/v1/models", timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any transport failure means "not reachable now"
        return f"no answer within {timeout:g} s: {type(exc).__name__}"
    return None


def list_files_to_fetch(repo_id: str) -> dict[str, int]:
    """Name -> size of the config, tokenizer and weight files to download (raises the named errors)."""
    from modelscope.hub.api import HubApi
    from modelscope_hub.errors import NotExistError

    try:
        listing = HubApi(endpoint=endpoint()).get_model_files(repo_id, recursive=True)
    except NotExistError as exc:
        raise InvalidInput(
            f"No model '{repo_id}' on ModelScope ({endpoint()}). Check the spelling, e.g. "
            "modelscope:tiansz/bert-base-chinese.",
            code="hub_model_not_found",
            details={"source": PREFIX + repo_id},
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any other failure: the site is not usable now
        raise unreachable_error(repo_id, f"listing files failed: {type(exc).__name__}") from exc
    sizes = {f.get("Path") or f.get("Name"): int(f.get("Size") or 0) for f in listing if f.get("Type") != "tree"}
    return files_to_fetch(sizes)


def download(repo_id: str, files: dict[str, int], progress: ProgressCallback | None) -> Path:
    """Snapshot-download `files` of `repo_id` into ModelScope's cache with byte progress; the snapshot folder."""
    from modelscope.hub.callback import ProgressCallback as ModelScopeProgress
    from modelscope.hub.snapshot_download import snapshot_download

    total = sum(files.values()) or None
    state = {"done": 0}

    class _Bytes(ModelScopeProgress):
        """Forwards each chunk of bytes (of any file) to the caller's callback."""

        def update(self, size: int) -> None:
            state["done"] += int(size or 0)
            report(progress, "download", state["done"], total)

    report(progress, "download", 0, total)
    try:
        folder = Path(
            snapshot_download(
                repo_id,
                allow_patterns=list(files),
                progress_callbacks=[_Bytes],
                endpoint=endpoint(),
                cache_dir=str(cache_root()),  # the client caches its settings per process: pass them each time
            )
        )
    except Exception as exc:  # noqa: BLE001
        raise unreachable_error(repo_id, f"download failed: {type(exc).__name__}") from exc
    return folder
