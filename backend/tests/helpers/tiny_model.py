"""Build a tiny BERT classifier locally (no network) through the real save_pretrained path."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_bert(out_dir: Path, texts: Iterable[str], num_labels: int = 2) -> Path:
    """Save a 2-layer, hidden-32 BERT + a char-level WordPiece vocab built from `texts` into `out_dir`."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    ascii_chars = [chr(c) for c in range(33, 127)]
    vocab = SPECIAL + sorted(set(chars) | set(ascii_chars))
    vocab_file = out_dir / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # transformers 5 takes the vocabulary as `vocab` (a `vocab_file=` keyword would be silently ignored).
    tokenizer = BertTokenizerFast(vocab=str(vocab_file), do_lower_case=True, tokenize_chinese_chars=True)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
    )
    return _save_seeded(BertForSequenceClassification, config, tokenizer, out_dir)


def _save_seeded(model_class, config, tokenizer, out_dir: Path) -> Path:  # noqa: ANN001 - any transformers model
    """Build the model from fixed initial weights (tests that assert on learned scores must not depend on the
    draw) and save it with its tokenizer."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = model_class(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


CHAT_SPECIAL = ["<pad>", "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"]


def build_tiny_causal_lm(
    out_dir: Path, texts: Iterable[str], chat_template: str | None = None, context: int = 256
) -> Path:
    """Save a 2-layer, hidden-32 Llama + a byte-level BPE tokenizer trained on `texts` (Gemma's turn markers as
    special tokens, no chat template unless given: the product's default then applies) into `out_dir`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=CHAT_SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>",
        additional_special_tokens=CHAT_SPECIAL[3:],
    )  # fmt: skip
    if chat_template:
        tokenizer.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=context,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
        initializer_range=0.3,  # far from uniform logits: a frozen base that LoRA can steer in a few steps
    )
    return _save_seeded(LlamaForCausalLM, config, tokenizer, out_dir)
