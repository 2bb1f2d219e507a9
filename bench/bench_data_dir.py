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


def open_product():
    """(settings, session factory) of the product on LLM_TRAINER_DATA_DIR, its database migrated."""
    from llm_trainer.core.config import get_settings
    from llm_trainer.db.base import make_engine, make_session_factory
    from llm_trainer.db.migrate import upgrade_to_head

    settings = get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    return settings, make_session_factory(engine)


def upload(settings, factory, path: Path, task: str) -> tuple[int, int]:
    """Import `path` as a dataset of `task` the way an upload does; returns (dataset id, rows kept)."""
    import shutil
    import time

    from llm_trainer.db.base import session_scope
    from llm_trainer.services.datasets import create_from_upload, incoming_dir

    staged = incoming_dir(settings) / f"bench-{time.time_ns()}{path.suffix}"
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        path, staged
    )  # the dataset service takes ownership of (moves) the staged copy
    with session_scope(factory) as session:
        dataset = create_from_upload(session, settings, staged, path.name, task=task)
        return dataset.id, dataset.row_count


def add_e5_cache(parser) -> None:
    """The --e5-cache option every training benchmark takes."""
    parser.add_argument(
        "--e5-cache",
        type=Path,
        default=None,
        help="A data dir already holding the converted e5 model.",
    )
