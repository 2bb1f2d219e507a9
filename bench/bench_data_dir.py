"""Shared set-up for benchmarks: a data dir that can reuse an already converted embedded model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def prepare_data_dir(data_dir: Path | None, prefix: str, e5_cache: Path | None) -> Path:
    """Return the (possibly fresh) data dir, exported as LLM_TRAINER_DATA_DIR, with e5_cache's model linked in."""
    data_dir = (data_dir or Path(tempfile.mkdtemp(prefix=prefix))).resolve()
    os.environ["LLM_TRAINER_DATA_DIR"] = str(data_dir)
    if e5_cache and (e5_cache / "embedded").is_dir():
        (data_dir / "cache").mkdir(parents=True, exist_ok=True)
        link = data_dir / "cache" / "embedded"
        if not link.exists():
            link.symlink_to((e5_cache / "embedded").resolve())
    return data_dir
