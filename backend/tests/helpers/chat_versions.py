"""A LoRA generation version without a training run: the tiny causal LM as base, and an adapter whose weights are
random (not the identity LoRA starts from), so the version answers differently from its base model."""

from __future__ import annotations

from pathlib import Path

from llm_trainer.core.config import Settings
from tests.helpers.chat_data import chat_texts
from tests.helpers.tiny_model import build_tiny_causal_lm
from tests.helpers.versions import _insert


def make_lora_chat_version(settings: Settings, base_dir: Path, name: str = "tiny chat") -> int:
    """Build the tiny base into `base_dir` and a LoRA version on it; returns the version id."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llm_trainer.ml.tasks.generation.chat import ensure_chat_template

    base = build_tiny_causal_lm(base_dir, chat_texts(30))

    def fill(folder: Path) -> None:
        tokenizer = AutoTokenizer.from_pretrained(base)
        ensure_chat_template(tokenizer)
        config = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj", "up_proj"], init_lora_weights=False)
        with torch.random.fork_rng():
            torch.manual_seed(1)
            model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), config)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    manifest = {"kind": "lora", "task": "generation", "labels": [], "base_model": str(base), "max_length": 64,
                "metrics": {"loss": 1.0, "perplexity": 2.7}, "training_config": {},
                "generation": {"base_folder": str(base.resolve()), "finetuning": "lora"}}  # fmt: skip
    return _insert(settings, fill, manifest, name=name, kind="lora", task="generation", base_model=str(base),
                   status="succeeded", labels=[], metrics={"loss": 1.0, "perplexity": 2.7})  # fmt: skip
