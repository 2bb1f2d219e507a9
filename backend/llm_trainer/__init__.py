"""LLM Trainer: fine-tune pretrained transformers on labelled Chinese text, self-hosted."""

__version__ = "0.1.0"
