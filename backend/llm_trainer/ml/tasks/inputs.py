"""Shared checks of prediction inputs: none empty, not too many, over-long ones cut (flagged, not refused)."""

from __future__ import annotations

from collections.abc import Sequence

from llm_trainer.core.errors import InvalidInput, PayloadTooLarge


def clean_texts(texts: Sequence[str], max_texts: int, max_chars: int) -> tuple[list[str], list[bool]]:
    """Refuse empty or too many texts; cut texts longer than `max_chars` (flagged, not refused)."""
    if not texts:
        raise InvalidInput('No text given. Send {"text": "..."} or {"texts": ["...", ...]}.', code="empty_text")
    check_count(len(texts), max_texts, "texts")
    blank = [i for i, t in enumerate(texts) if not t or not t.strip()]
    if blank:
        raise InvalidInput(
            f"Text {blank[0]} is empty. Every text needs at least one non-space character.",
            code="empty_text",
            details={"indexes": blank[:20]},
        )
    cut = [len(t) > max_chars for t in texts]
    return [t[:max_chars] for t in texts], cut


def check_count(n: int, max_inputs: int, what: str) -> None:
    if n > max_inputs:
        raise PayloadTooLarge(
            f"{n} {what} in one request; at most {max_inputs} are accepted. "
            "Split the request, or use batch file prediction (POST /api/predict/batch) for many inputs.",
            code=f"too_many_{what}",
            details={f"max_{what}": max_inputs, "received": n},
        )


def single_or_many(fields: dict, one: str, many: str) -> list | None:
    """The request's `one` value as a list, or its `many` list; None when neither is set."""
    if fields.get(one) is not None:
        return [fields[one]]
    if fields.get(many) is not None:
        return list(fields[many])
    return None
