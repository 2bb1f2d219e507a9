"""Single-label text classification: `text,label` files, softmax head, accuracy/macro-F1, TF-IDF + LR baseline."""

from llm_trainer.ml.tasks.classification.spec import ClassificationSpec
from llm_trainer.ml.tasks.registry import register

SPEC = register(ClassificationSpec())
