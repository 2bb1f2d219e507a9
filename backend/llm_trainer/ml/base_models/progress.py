"""Progress events for long preparations (download, conversion): {"stage","downloaded","total","percent"}."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

ProgressCallback = Callable[[dict[str, Any]], None]


def report(progress: ProgressCallback | None, stage: str, done: int, total: int | None) -> None:
    """Send one event; a failing callback never breaks the preparation it observes."""
    if progress is None:
        return
    percent = round(100.0 * done / total, 1) if total else None
    # The observer's bug must not abort a download.
    with contextlib.suppress(Exception):
        progress({"stage": stage, "downloaded": done, "total": total, "percent": percent})
