"""Tiny NER data and tokenizers built locally: synthetic texts whose entities a 2-layer model learns in seconds, and
a SentencePiece-style tokenizer with multi-character pieces (as the embedded e5 model tokenises Chinese)."""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["张三", "李四", "王小明", "赵敏", "周杰", "陈静"]
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都"]
COMPANIES = ["华为", "腾讯", "阿里巴巴", "小米"]
TEMPLATES = [
    "我叫{name}，住在{city}。",
    "{name}在{company}上班",
    "{company}总部在{city}",
    "{name}明天去{city}出差",
    "今天{city}下雨了",
    "{name}说{company}很好",
]


def ner_records(n: int, seed: int = 0) -> list[dict]:
    """`n` texts from the templates with their entities (start, end exclusive, label)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        template = TEMPLATES[i % len(TEMPLATES)]
        values = {"name": rng.choice(NAMES), "city": rng.choice(CITIES), "company": rng.choice(COMPANIES)}
        text, entities = "", []
        for part in template.replace("}", "{").split("{"):
            if part in values:
                entities.append({"start": len(text), "end": len(text) + len(values[part]), "label": part})
                text += values[part]
            else:
                text += part
        out.append({"text": text + ("" if i < len(TEMPLATES) else f"#{i}"), "entities": entities})
    return out


def write_ner_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def build_piece_tokenizer(pieces: list[str]):
    """A Unigram (SentencePiece-style) fast tokenizer over `pieces` + single characters, NFKC-normalised like e5."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    chars = sorted({c for p in pieces for c in p.replace("▁", "")})
    vocab = [(s, 0.0) for s in specials] + [(p, -1.0) for p in pieces] + [(c, -5.0) for c in chars] + [("▁", -3.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        model_max_length=128,
    )
