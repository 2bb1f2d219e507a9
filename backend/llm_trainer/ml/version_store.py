"""The one owner of a model version's folder: its layout, manifest, size rule, atomic write and read.

Layout: `<models dir>/<version id>/` holds the weights, tokenizer and `llm_trainer.json` (the manifest: task, kind,
labels, max_length, metrics, training config, lineage); `validation_reference.json` holds PyTorch's own answers on
(a sample of) the validation split, which the fast-serving export job compares its copy with;
`exports/<variant>/model.onnx` holds built fast copies.
A version is written into a staging folder (`.tmp-run<tag>-<random>`, swept at start if a process died), its files
fsynced, then renamed into place in one step: a reader sees the whole version or none of it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MANIFEST = "llm_trainer.json"
REFERENCE = "validation_reference.json"
EXPORTS_DIR = "exports"
ENSEMBLE_DIR = "ensemble"
STAGING_PREFIX = ".tmp-run"
PARTIAL_SUFFIX = ".partial"


def version_folder(models_dir: Path, version_id: int) -> Path:
    return models_dir / str(version_id)


def ensemble_dir(version_dir: Path) -> Path:
    """Where a version whose ensemble beat it on validation keeps the TF-IDF baseline it is blended with."""
    return version_dir / ENSEMBLE_DIR


def export_path(version_dir: Path, variant: str) -> Path:
    """Where an exported variant's ONNX graph lives inside the version folder."""
    return version_dir / EXPORTS_DIR / variant / "model.onnx"


def read_manifest(version_dir: Path) -> dict[str, Any]:
    """The version's manifest (kind, labels, max_length, metrics...), or {} when absent."""
    path = version_dir / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def write_manifest(version_dir: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically: a reader sees the old or the new file, never half of one."""
    tmp = version_dir / f".{MANIFEST}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(version_dir / MANIFEST)


class ValidationReference(BaseModel):
    """PyTorch's answers on the validation texts, saved with the version: the export job checks its ONNX copy
    against them without a second PyTorch pass and without the dataset (which may be deleted by then)."""

    texts: list[str | tuple[str, str]] = Field(description="Validation inputs (sentence pairs as two texts).")
    labels: list[str] | None = Field(description="True labels; None where labels are sets (multi-label).")
    classes: list[str] = Field(description="Column order of `probs`.")
    probs: list[list[float]] = Field(description="PyTorch's probabilities per text, one column per class.")
    windowed: bool = Field(
        False,
        description="Texts past the max length were read in overlapping windows, as the version serves them; "
        "references saved before this field read them cut.",
    )


def write_reference(version_dir: Path, reference: ValidationReference) -> None:
    """Store the reference inside a (staged) version folder; published with it."""
    (version_dir / REFERENCE).write_text(reference.model_dump_json(), encoding="utf-8")


def read_reference(version_dir: Path) -> ValidationReference | None:
    """The saved reference, or None for versions saved without one (older versions, stopped runs)."""
    path = version_dir / REFERENCE
    return ValidationReference.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None


def folder_size(version_dir: Path) -> int:
    """The model's own size: exported copies (exports/) report theirs per variant."""
    exports = version_dir / EXPORTS_DIR
    return sum(p.stat().st_size for p in version_dir.rglob("*") if p.is_file() and exports not in p.parents)


@contextmanager
def staged_version(models_dir: Path, tag: str, manifest: dict[str, Any]) -> Iterator[Path]:
    """A staging folder with the manifest already in it (exports built while saving read max_length from it);
    removed on the way out unless it was published."""
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f"{STAGING_PREFIX}{tag}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True)
        write_manifest(tmp, manifest)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(staged: Path, final: Path) -> Path:
    """fsync every file of `staged`, then rename it to `final` (replacing a stale one) and fsync the parent;
    returns the absolute final path. A crash before the rename leaves only the staging folder."""
    for path in sorted(staged.rglob("*"), reverse=True):
        if path.is_file():
            _fsync(path)
    _fsync_dir(staged)
    if final.exists():
        shutil.rmtree(final)
    staged.rename(final)
    _fsync_dir(final.parent)
    return final.resolve()


def _fsync(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
