"""A LoRA version as a standalone model: the adapter merged into its base model's weights and saved as a plain
Hugging Face folder (safetensors weights, config, tokenizer with the chat template used in training, a generation
config that stops at the end-of-turn token), which `AutoModelForCausalLM.from_pretrained` loads without peft."""

from __future__ import annotations

from pathlib import Path

from llm_trainer.ml.inference.runtime import on_torch_thread
from llm_trainer.ml.tasks.generation.chat import stop_token_ids
from llm_trainer.ml.tasks.generation.predictor import ADAPTER_CONFIG, base_folder
from llm_trainer.ml.version_store import read_manifest

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")


def is_adapter(version_dir: Path) -> bool:
    return (version_dir / ADAPTER_CONFIG).is_file()


def merged_size_estimate(version_dir: Path) -> int:
    """Bytes the merged folder will take: about its base model's weights."""
    base = base_folder(version_dir, read_manifest(version_dir))
    return sum(p.stat().st_size for p in base.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def write_merged(version_dir: Path, out: Path) -> Path:
    """Merge and save into `out` (on the torch thread: loading and merging run parallel tensor work)."""
    return on_torch_thread(_write_merged_here, version_dir, out)


def _write_merged_here(version_dir: Path, out: Path) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(base_folder(version_dir, read_manifest(version_dir)))
    model = PeftModel.from_pretrained(base, version_dir).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(version_dir)
    # plain `generate` then stops where the chat page does: at the template's end-of-turn token or EOS
    model.generation_config.eos_token_id = stop_token_ids(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    with torch.no_grad():
        model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
