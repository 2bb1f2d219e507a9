"""Build a tiny BERT classifier locally (no network) through the real save_pretrained path."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_bert(out_dir: Path, texts: Iterable[str], num_labels: int = 2) -> Path:
    """Save a 2-layer, hidden-32 BERT + a char-level WordPiece vocab built from `texts` into `out_dir`."""
    import torch
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
    # Fixed initial weights: tests that assert on learned accuracy must not depend on the draw.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
