"""Multi-label classification: several labels per text, sigmoid head with BCE, tuned per-label thresholds."""

from llm_trainer.ml.tasks.multi_label.spec import MultiLabelSpec
from llm_trainer.ml.tasks.registry import register

SPEC = register(MultiLabelSpec())
