"""Check a local model folder before use, naming every missing file (never `trust_remote_code`)."""

from __future__ import annotations

import json
from pathlib import Path

from llm_trainer.core.errors import InvalidInput

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model")


def folder_problems(folder: Path) -> list[str]:
    """Human-readable list of what is missing or broken in `folder` (empty when usable)."""
    if not folder.is_dir():
        return [f"folder {folder} does not exist"]
    problems = []
    config = folder / "config.json"
    if not config.is_file():
        problems.append("config.json")
    else:
        try:
            if "model_type" not in json.loads(config.read_text(encoding="utf-8")):
                problems.append("config.json has no model_type")
        except (ValueError, UnicodeDecodeError):
            problems.append("config.json is not valid JSON")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        problems.append("weights (model.safetensors or pytorch_model.bin)")
    else:
        problems += _missing_shards(folder)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        problems.append("tokenizer files (tokenizer.json or vocab.txt)")
    return problems


def _missing_shards(folder: Path) -> list[str]:
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = folder / index_name
        if index.is_file() and not (folder / index_name.removesuffix(".index.json")).is_file():
            try:
                shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            except (ValueError, KeyError):
                return [f"{index_name} is not a valid shard index"]
            return sorted(shard for shard in shards if not (folder / shard).is_file())
    return []


def check_under_roots(folder: str | Path, roots: list[Path]) -> Path:
    """The folder, when it lies under one of `roots`; else refused without saying whether it exists."""
    path = Path(folder).expanduser().resolve()
    if not any(path == root or root in path.parents for root in roots):
        raise InvalidInput(
            "Local model folders must lie under the allowed model roots (LLM_TRAINER_MODEL_ROOTS; by default the "
            "data dir's models/ and cache/ and the Hugging Face cache). Move or link the model there, or add its "
            "parent folder to LLM_TRAINER_MODEL_ROOTS.",
            code="model_source_forbidden",
        )
    return path


def check_local_folder(folder: str | Path, roots: list[Path] | None = None) -> Path:
    """Return the folder if it holds config, weights and tokenizer; else raise `model_folder_incomplete`.

    With `roots` (a user-supplied source), the folder must lie under one of them first."""
    path = check_under_roots(folder, roots) if roots is not None else Path(folder)
    problems = folder_problems(path)
    if problems:
        raise InvalidInput(
            f"The model folder {path} cannot be used, missing or broken: {', '.join(problems)}. "
            "Save the model with `model.save_pretrained(folder)` and `tokenizer.save_pretrained(folder)`.",
            code="model_folder_incomplete",
            details={"folder": str(path), "missing": problems},
        )
    return path
