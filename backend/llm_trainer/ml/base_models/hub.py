"""Hugging Face hub sources: local cache first, a short reachability probe, download with byte progress.

Honours HF_ENDPOINT (mirrors such as https://hf-mirror.com), HF_HOME/HF_HUB_CACHE (where files are cached) and
HF_HUB_OFFLINE, all read at call time so a running server follows the environment it was started with.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from llm_trainer.core.errors import InvalidInput, Unavailable
from llm_trainer.ml.base_models.local import folder_problems
from llm_trainer.ml.base_models.progress import ProgressCallback, report

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 2.5
_CONFIG_AND_TOKENIZER = (
    "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
    "added_tokens.json", "sentencepiece.bpe.model", "spiece.model",
)  # fmt: skip
# Set by whoever downloads on a user's behalf (the training worker): the largest download allowed, in bytes.
_MAX_DOWNLOAD_BYTES: ContextVar[int | None] = ContextVar("hub_max_download_bytes", default=None)
_WEIGHT_CHOICES = (("model.safetensors",), ("model.safetensors.index.json", "model-*.safetensors"),
                   ("pytorch_model.bin",), ("pytorch_model.bin.index.json", "pytorch_model-*.bin"))  # fmt: skip


@contextmanager
def download_limit(max_bytes: int | None) -> Iterator[None]:
    """Downloads inside this block larger than `max_bytes` are refused before the first byte."""
    token = _MAX_DOWNLOAD_BYTES.set(max_bytes)
    try:
        yield
    finally:
        _MAX_DOWNLOAD_BYTES.reset(token)


def check_download_size(repo_id: str, files: dict[str, int], max_bytes: int | None = None) -> int:
    """Total bytes of `files`; `model_too_large` when over `max_bytes` (default: the enclosing download_limit)."""
    limit = max_bytes if max_bytes is not None else _MAX_DOWNLOAD_BYTES.get()
    total = sum(files.values())
    if limit is not None and total > limit:
        raise InvalidInput(
            f"'{repo_id}' needs {total / 1e9:.1f} GB of downloads, more than the {limit / 1e9:g} GB allowed "
            "(LLM_TRAINER_HUB_MAX_DOWNLOAD_GB). Pick a smaller model, or raise that setting and restart.",
            code="model_too_large",
            details={"source": repo_id, "bytes": total, "max_bytes": limit},
        )
    return total


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_offline() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return any((v or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for v in flags)


def unreachable_error(repo_id: str, why: str) -> Unavailable:
    """The one message for 'the hub cannot be reached', with the three ways out."""
    fix = "unset HF_HUB_OFFLINE" if hub_offline() else "set HF_ENDPOINT to a mirror (e.g. https://hf-mirror.com)"
    return Unavailable(
        f"Cannot download '{repo_id}' from {hub_endpoint()} ({why}) and it is not in the local cache. Either "
        f"{fix} and restart, pick a local model folder, or use the embedded offline model "
        "'embedded:multilingual-e5-small'.",
        code="hub_unreachable",
        details={"source": repo_id, "endpoint": hub_endpoint(), "reason": why},
    )


def cached_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of `repo_id` when config, weights and tokenizer are all in the HF cache."""
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(repo_id, "config.json")
    if not isinstance(config, str):
        return None
    snapshot = Path(config).parent
    return snapshot if not folder_problems(snapshot) else None


def probe(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the endpoint answers within `timeout` (any HTTP status), else the reason it does not."""
    if hub_offline():
        return "HF_HUB_OFFLINE is set"
    from huggingface_hub.utils import get_session

    try:
        get_session().head(f"{hub_endpoint()}/api/models/{'bert-base-chinese'}", timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any transport failure means "not reachable now"
        return f"no answer within {timeout:g} s: {type(exc).__name__}"
    return None


def list_files_to_fetch(repo_id: str) -> dict[str, int]:
    """Name -> size of the config, tokenizer and weight files to download (raises the named hub errors)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        info = HfApi(endpoint=hub_endpoint()).model_info(repo_id, files_metadata=True, timeout=15)
    except GatedRepoError as exc:
        raise InvalidInput(
            f"'{repo_id}' is gated on the hub: accept its licence there and set HF_TOKEN, or pick another model.",
            code="hub_model_gated",
            details={"source": repo_id},
        ) from exc
    except RepositoryNotFoundError as exc:
        raise InvalidInput(
            f"No model '{repo_id}' on {hub_endpoint()}. Check the spelling (e.g. bert-base-chinese, hfl/rbt3).",
            code="hub_model_not_found",
            details={"source": repo_id},
        ) from exc
    except Exception as exc:  # noqa: BLE001
        raise unreachable_error(repo_id, f"listing files failed: {type(exc).__name__}") from exc
    return files_to_fetch({s.rfilename: s.size or 0 for s in info.siblings or []})


def files_to_fetch(sizes: dict[str, int]) -> dict[str, int]:
    """Of a repo's files (name -> size), the config, tokenizer and one set of weights (safetensors first)."""
    chosen = {name: sizes[name] for name in _CONFIG_AND_TOKENIZER if name in sizes}
    for choice in _WEIGHT_CHOICES:
        if choice[0] in sizes:
            chosen |= {n: s for n, s in sizes.items() if any(fnmatch.fnmatch(n, p) for p in choice)}
            break
    return chosen


def download(repo_id: str, files: dict[str, int], progress: ProgressCallback | None) -> Path:
    """Fetch `files` of `repo_id` into the HF cache with byte progress; the snapshot folder they landed in."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import tqdm as hf_tqdm

    total = sum(files.values()) or None
    state = {"done": 0}

    class _Progress(hf_tqdm):
        """Forwards each chunk of bytes to the caller's callback."""

        def update(self, n=1):
            state["done"] += int(n or 0)
            report(progress, "download", state["done"], total)
            return super().update(n)

    report(progress, "download", 0, total)
    folder = None
    try:
        for name in files:
            path = hf_hub_download(repo_id, name, endpoint=hub_endpoint(), tqdm_class=_Progress, etag_timeout=15)
            folder = Path(path).parent
    except Exception as exc:  # noqa: BLE001
        raise unreachable_error(repo_id, f"download of {name} failed: {type(exc).__name__}") from exc
    return folder or Path("-")  # no file at all: the caller names what is missing
