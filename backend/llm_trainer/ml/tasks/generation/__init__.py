"""Generation: instruction / chat SFT of causal language models (LoRA via peft), served as a chat model."""

from llm_trainer.ml.tasks.generation.spec import GenerationSpec
from llm_trainer.ml.tasks.registry import register

SPEC = register(GenerationSpec())
