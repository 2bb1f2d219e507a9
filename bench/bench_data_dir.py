"""Shared set-up for benchmarks: a data dir that can reuse an already converted embedded model."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


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


def add_config_override(parser) -> None:
    """The --config option of the benchmarks that sweep settings: TrainingConfig fields over the defaults."""
    parser.add_argument(
        "--config",
        type=json.loads,
        default={},
        help="TrainingConfig fields over the defaults, as JSON (e.g. '{\"head_learning_rate\": null}').",
    )


def train_once(
    settings, factory, dataset_id: int, base_model: str, config
) -> tuple[dict, float]:
    """Queue one run and train it in this process (the CLI's --wait path); (version metrics, wall seconds)."""
    import time

    from llm_trainer.cli.train import _train_here
    from llm_trainer.db.base import session_scope
    from llm_trainer.db.models import ModelVersion
    from llm_trainer.services import training

    with session_scope(factory) as session:
        run = training.create_run(
            session,
            settings,
            dataset_id=dataset_id,
            base_model=base_model,
            config=config,
        )
        run_id = run.id
    started = time.monotonic()
    _train_here(settings, factory, run_id)
    wall = time.monotonic() - started
    with session_scope(factory) as session:
        version = session.query(ModelVersion).filter_by(run_id=run_id).first()
        return (dict(version.metrics) if version else {}), wall


def long_text_sample(args, prefix: str) -> tuple[Any, Any, int, int, Path]:
    """(settings, factory, dataset id, rows, scratch dir): the product opened on a fresh data dir with a stratified
    sample of the long-enough texts of `args.dataset` uploaded as a classification dataset."""
    from truncation import DATASETS, sample_file

    prepare_data_dir(None, prefix, args.e5_cache)
    settings, factory = open_product()
    scratch = Path(tempfile.mkdtemp(prefix=prefix + "files-"))
    path = sample_file(
        DATASETS / args.dataset, args.min_chars, args.rows, scratch / "sample.csv"
    )
    dataset_id, n_rows = upload(settings, factory, path, "classification")
    return settings, factory, dataset_id, n_rows, scratch


def finish_long_text_bench(metrics: dict[str, Any], scratch: Path) -> int:
    """Print the TF-IDF baseline that ran on the same split, remove the bench's scratch and data dirs; exit code 0."""
    import shutil

    base = metrics.get("baseline") or {}
    print(
        f"TF-IDF baseline (same split): accuracy {base.get('accuracy', 0):.4f}, "
        f"macro-F1 {base.get('macro_f1', 0):.4f}"
    )
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(os.environ["LLM_TRAINER_DATA_DIR"], ignore_errors=True)
    return 0
