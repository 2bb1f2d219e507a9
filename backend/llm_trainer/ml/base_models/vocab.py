"""Trim a SentencePiece-unigram model's vocabulary to what a dataset needs, so steps are faster and versions small.

The embedded e5 model carries a 250k x 384 embedding table (96M of its 118M parameters, ~384 MB of a ~470 MB save).
We keep: the special tokens, printable ASCII and CJK/full-width punctuation pieces, the `base_cjk` most frequent
single CJK characters (by unigram score: the common-character set that covers nearly all modern Chinese), every
single character the training texts use, then the training texts' other pieces by frequency, up to `max_pieces`.
Any text segmented by the full vocabulary into kept pieces segments identically after trimming (Viterbi over a
subset that still contains the best path), so training texts keep their exact tokens; unseen texts fall back to kept
pieces or characters.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable

from llm_trainer.ml.base_models.e5_tokenizer import SPECIAL_TOKENS, wrap_fast

DEFAULT_MAX_PIECES = 8000  # 8000 x 384 fp32 = 12.3 MB on top of the 86 MB encoder: a saved version stays < 100 MB
DEFAULT_BASE_CJK = 3500


def _char_class(piece: str) -> str | None:
    body = piece[1:] if piece.startswith("▁") and len(piece) > 1 else piece
    if len(body) != 1:
        return None
    cp = ord(body)
    if 0x20 <= cp < 0x7F:
        return "ascii"
    if 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFFEF:
        return "punct"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF:
        return "cjk"
    return None


def select_pieces(
    vocab: list[tuple[str, float]],
    token_counts: Counter,
    *,
    max_pieces: int = DEFAULT_MAX_PIECES,
    base_cjk: int = DEFAULT_BASE_CJK,
) -> list[int]:
    """Old ids to keep, in their original order (so the specials keep ids 0..3)."""
    must = {
        i for i, (p, _) in enumerate(vocab) if p in SPECIAL_TOKENS or p == "▁" or _char_class(p) in ("ascii", "punct")
    }
    single_used = {i for i in token_counts if _char_class(vocab[i][0]) is not None or len(vocab[i][0]) == 1}
    common_cjk = sorted(
        (i for i, (p, _) in enumerate(vocab) if _char_class(p) == "cjk" and not p.startswith("▁")),
        key=lambda i: -vocab[i][1],
    )[:base_cjk]
    keep = list(dict.fromkeys([*sorted(must), *sorted(single_used, key=lambda i: -token_counts[i]), *common_cjk]))
    chosen = set(keep)
    keep += [i for i, _ in token_counts.most_common() if i not in chosen]
    return sorted(keep[: max(max_pieces, len(must))])


def trim_vocabulary(tokenizer, model, texts: Iterable[str], **limits) -> tuple:
    """Return (tokenizer, model) restricted to the pieces `texts` need plus the base set; the model is edited in place.

    Only Unigram (SentencePiece) tokenizers are trimmed; others are returned unchanged.
    """
    import torch
    from tokenizers import Tokenizer

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec["model"]["type"] != "Unigram":
        return tokenizer, model
    vocab = [(p, s) for p, s in spec["model"]["vocab"]]
    counts = Counter(i for enc in tokenizer.backend_tokenizer.encode_batch(list(texts)) for i in enc.ids)
    keep = select_pieces(vocab, counts, **limits)
    new_id = {old: new for new, old in enumerate(keep)}

    spec["model"]["vocab"] = [list(vocab[i]) for i in keep]
    spec["model"]["unk_id"] = new_id[spec["model"]["unk_id"]]
    for added in spec["added_tokens"]:
        added["id"] = new_id[added["id"]]
    for special in (spec.get("post_processor") or {}).get("special_tokens", {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    new_tokenizer = wrap_fast(Tokenizer.from_str(json.dumps(spec)), tokenizer.model_max_length)

    old = model.get_input_embeddings()
    index = torch.tensor(keep, dtype=torch.long)
    pad = new_tokenizer.pad_token_id
    emb = torch.nn.Embedding(len(keep), old.embedding_dim, padding_idx=pad)
    with torch.no_grad():
        emb.weight.copy_(old.weight[index])
    model.set_input_embeddings(emb)
    model.config.vocab_size = len(keep)
    for attr in ("pad_token_id", "bos_token_id", "eos_token_id"):
        old_value = getattr(model.config, attr, None)
        if old_value is not None:
            setattr(model.config, attr, new_id.get(old_value))
    return new_tokenizer, model
