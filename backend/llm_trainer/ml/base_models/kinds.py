"""What a model folder's config says it is: a text generator (causal LM) or an encoder, from `architectures`.

Transformers maps BERT and XLM-R configs to causal LM classes too (BertLMHeadModel), so `AutoModelForCausalLM` alone
happily turns an encoder into a poor decoder; the architectures a checkpoint was saved with say what it was trained as.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

GENERATOR_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def generates_text(architectures: Sequence[str] | None) -> bool | None:
    """True when a config names a text-generating head, False when it names only others (BertModel,
    BertForMaskedLM), None when it names none."""
    if not architectures:
        return None
    return any(str(a).endswith(GENERATOR_SUFFIXES) for a in architectures)


def folder_architectures(folder: Path) -> list[str] | None:
    """The `architectures` of a model folder's config.json (None when it has no readable list)."""
    try:
        value = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architectures")
    except (OSError, ValueError, AttributeError):
        return None
    return [str(a) for a in value] if isinstance(value, list) else None
