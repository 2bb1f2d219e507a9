"""Options shared by CLI subcommands."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from llm_trainer.core.config import Settings, get_settings


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="Where uploads, models and the SQLite file live (env LLM_TRAINER_DATA_DIR).",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Apply --data-dir through the environment so worker processes started later inherit it."""
    if getattr(args, "data_dir", None):
        os.environ["LLM_TRAINER_DATA_DIR"] = str(args.data_dir.resolve())
        get_settings.cache_clear()
    return get_settings()
