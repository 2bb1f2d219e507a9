"""`llm-trainer` command line: serve, train, predict, chat, join-run. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llm_trainer import __version__
from llm_trainer.cli import chat, join, predict, serve, train

COMMANDS = (serve, train, predict, chat, join)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm-trainer", description="LLM Trainer 大语言模型训练平台")
    parser.add_argument("--version", action="version", version=f"llm-trainer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
