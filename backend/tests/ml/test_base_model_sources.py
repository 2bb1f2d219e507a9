"""Source strings: every accepted form, and the named error for the rest."""

from __future__ import annotations

import pytest

from llm_trainer.core.errors import InvalidInput
from llm_trainer.ml.base_models.sources import EMBEDDED_SOURCE, parse_source


@pytest.mark.parametrize(
    ("text", "kind", "canonical"),
    [
        ("bert-base-chinese", "hub", "bert-base-chinese"),
        ("hfl/rbt3", "hub", "hfl/rbt3"),
        ("/models/my-bert", "local", "/models/my-bert"),
        ("local:/models/my-bert/", "local", "/models/my-bert"),
        (EMBEDDED_SOURCE, "embedded", EMBEDDED_SOURCE),
        ("tfidf", "tfidf", "tfidf"),
    ],
)
def test_accepted_sources(text: str, kind: str, canonical: str) -> None:
    parsed = parse_source(text)
    assert (parsed.kind, parsed.source) == (kind, canonical)


@pytest.mark.parametrize("text", ["", "a b", "../up/there", "embedded:other-model", "x/y/z"])
def test_rejected_sources_say_what_is_valid(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_source(text)
    assert err.value.code == "unknown_model_source"
    assert "embedded:multilingual-e5-small" in err.value.message


def test_local_source_must_be_absolute() -> None:
    with pytest.raises(InvalidInput, match="absolute path") as err:
        parse_source("local:relative/path")
    assert err.value.code == "unknown_model_source"
