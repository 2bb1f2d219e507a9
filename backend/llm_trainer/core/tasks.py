"""The NLP tasks the platform trains: one value per task, stored on datasets, runs and versions."""

from __future__ import annotations

from enum import StrEnum


class TaskKind(StrEnum):
    CLASSIFICATION = "classification"  # single-label text classification
    MULTI_LABEL = "multi_label"  # several labels per text, sigmoid head
    PAIR = "pair"  # two texts, one label (matching / NLI), cross-encoder
    NER = "ner"  # character-offset entity spans, token classification
    GENERATION = "generation"  # instruction / chat SFT of a causal LM
