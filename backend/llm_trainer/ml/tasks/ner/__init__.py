"""Named-entity recognition: character spans (end exclusive), token classification over offsets, CRF baseline."""

from llm_trainer.ml.tasks.ner.spec import NerSpec
from llm_trainer.ml.tasks.registry import register

SPEC = register(NerSpec())
