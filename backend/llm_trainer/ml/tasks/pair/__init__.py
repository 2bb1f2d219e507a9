"""Sentence pairs (matching / NLI): `text_a,text_b,label` files, cross-encoder, TF-IDF pair-feature baseline."""

from llm_trainer.ml.tasks.pair.spec import PairSpec
from llm_trainer.ml.tasks.registry import register

SPEC = register(PairSpec())
