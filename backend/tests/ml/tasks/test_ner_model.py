"""NER modelling on real tiny models built locally: offsets put labels and predicted spans on the characters of the
original text (multi-character pieces, full-width letters, spaces), windows cover long texts, a tiny BERT learns the
synthetic entities, and the saved version predicts what its metrics say. The CRF baseline learns them too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llm_trainer.ml.tasks.ner.alignment import decode, encode_windows, label_windows
from llm_trainer.ml.tasks.ner.metrics import evaluate
from llm_trainer.ml.tasks.ner.spec import NerSpec, split_ner
from llm_trainer.ml.tasks.ner.tags import bio_labels
from llm_trainer.ml.tasks.spec import ModelJob, TaskRow
from llm_trainer.ml.training.config import TrainingConfig
from tests.helpers.ner_data import build_piece_tokenizer, ner_records
from tests.helpers.reporters import Recorder
from tests.helpers.tiny_model import build_tiny_bert

PIECES = ["▁北京", "北京", "大学", "IBM", "▁我", "工作", "京大"]
LABELS = bio_labels(["org", "loc"])
L2I = {name: i for i, name in enumerate(LABELS)}


def one_hot(windows, tags_per_window) -> list[np.ndarray]:
    out = []
    for w, tags in zip(windows, tags_per_window, strict=True):
        p = np.full((len(w.input_ids), len(LABELS)), 0.01)
        for i, tag in enumerate(tags):
            p[i, L2I[tag]] = 0.9
        out.append(p)
    return out


def test_labels_follow_token_offsets_and_entities_cut_by_a_piece_are_counted() -> None:
    tok = build_piece_tokenizer(PIECES)
    text = "我在 ＩＢＭ 工作，北京大学"
    [w] = encode_windows(tok, [text], 64)
    pieces = [text[o[0] : o[1]] if o else None for o in w.offsets]
    assert pieces == [None, "我", "在", None, "ＩＢＭ", None, "工作", "，", "北京", "大学", None]
    cut = label_windows([w], [[(3, 6, "org"), (10, 14, "org")]], [text], L2I)
    assert cut == 0
    tags = [LABELS[i] if i >= 0 else None for i in w.labels]
    assert tags == [None, "O", "O", None, "B-org", None, "O", "O", "B-org", "I-org", None]
    # "京" alone is no piece boundary of "北京": that entity is cut by the tokenizer.
    assert label_windows([w], [[(11, 12, "loc")]], [text], L2I) == 1


def test_predicted_token_tags_become_spans_on_the_original_characters() -> None:
    tok = build_piece_tokenizer(PIECES)
    text = "我在 ＩＢＭ 工作，北京大学"
    windows = encode_windows(tok, [text], 64)
    tags = ["O", "O", "O", "O", "B-org", "O", "O", "O", "B-loc", "B-org", "O"]
    [(spans, scores)] = decode(1, windows, one_hot(windows, [tags]), LABELS)
    assert [(text[s:e], lb) for s, e, lb in spans] == [("ＩＢＭ", "org"), ("北京", "loc"), ("大学", "org")]
    assert all(0.8 < s < 1 for s in scores)


def test_long_texts_are_cut_into_overlapping_windows_and_merged_back() -> None:
    tok = build_piece_tokenizer(PIECES)
    text = "我在北京工作" * 12
    windows = encode_windows(tok, [text], 16)
    assert len(windows) > 3 and all(len(w.input_ids) <= 16 for w in windows)
    spans = [(i, i + 2, "loc") for i in range(2, len(text), 6)]
    label_windows(windows, [spans], [text], L2I)
    tags = [[LABELS[i] if i >= 0 else "O" for i in w.labels] for w in windows]
    [(decoded, _)] = decode(1, windows, one_hot(windows, tags), LABELS)
    assert decoded == spans, "every entity once, on its characters, overlaps included"


def test_a_tiny_bert_learns_the_entities_and_reports_entity_f1_per_type(tiny_ner) -> None:
    data, trained, _, reporter = tiny_ner
    m = trained.metrics
    assert data.labels == ["city", "company", "name"]
    assert m["micro_f1"] > 0.85, m
    assert set(m["per_class"]) == {"city", "company", "name"} and m["per_class"]["city"]["support"] > 0
    assert m["confusion_matrix"]["labels"] == ["city", "company", "name", "O"]
    assert m["baseline"]["micro_f1"] > 0.5, "the CRF baseline ran on the same split"
    assert reporter.evals and "micro_f1" in reporter.evals[-1], "per-epoch entity F1 is reported live"
    # The live F1 (which also picks the best checkpoint) reads the validation windows in their order: a length-grouped
    # eval order once scored each window's tags against another text.
    assert reporter.evals[-1]["micro_f1"] == pytest.approx(m["micro_f1"], abs=0.05)


def test_the_saved_version_predicts_entities_with_offsets_text_and_score_as_its_metrics_say(tiny_ner) -> None:
    data, trained, folder, _ = tiny_ner
    spec = NerSpec()
    predictor = spec.load_predictor(folder, "transformer", "pytorch")
    answers = predictor.predict(data.val_texts)
    pred = [[(e.start, e.end, e.label) for e in a.entities] for a in answers]
    again = evaluate(data.val_texts, data.val_spans, pred, data.labels)
    assert again["micro_f1"] == pytest.approx(trained.metrics["micro_f1"])
    text = "我叫张三，住在北京。"
    public = spec.to_public(predictor.predict([text])[0])
    found = {(e["text"], e["label"]) for e in public["entities"]}
    assert ("张三", "name") in found and ("北京", "city") in found
    assert all(text[e["start"] : e["end"]] == e["text"] and 0 < e["score"] <= 1 for e in public["entities"])


def test_the_crf_baseline_version_is_saved_without_pickle_and_serves_entities(tmp_path: Path) -> None:
    records = ner_records(120)
    rows = [TaskRow(r["text"], "", None, None, r["entities"]) for r in records]
    data = split_ner(rows, TrainingConfig(seed=2))
    spec = NerSpec()
    trained = spec.train_baseline(data, Recorder())
    assert trained.kind == "crf" and trained.metrics["micro_f1"] > 0.8
    trained.write_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ner_crf.crfsuite", "ner_crf.json"]
    predictor = spec.load_predictor(tmp_path, "crf", "crf")
    [answer] = predictor.predict(["王小明在腾讯上班"])
    assert {(e.text, e.label) for e in answer.entities} == {("王小明", "name"), ("腾讯", "company")}


def test_a_tiny_time_budget_trains_ner_for_fewer_epochs_and_records_the_plan(tmp_path: Path) -> None:
    records = ner_records(60)
    rows = [TaskRow(r["text"], "", None, None, r["entities"]) for r in records]
    config = TrainingConfig(epochs=3, batch_size=8, max_length=32, seed=1, save_strategy="no", time_budget_minutes=1e-4)
    data = split_ner(rows, config)
    base = build_tiny_bert(tmp_path / "base", [r["text"] for r in records])
    reporter = Recorder()
    trained = NerSpec().train_model(data, ModelJob(str(base), config, tmp_path / "work", tmp_path / "cache"), reporter)
    plan = trained.metrics["time_budget"]
    assert plan["requested_epochs"] == 3 and plan["epochs"] < 3, plan
    assert plan["max_length"] == plan["requested_max_length"], "NER keeps its window length"
    steps_per_epoch = -(-len(data.train_texts) // 8)
    assert trained.metrics["global_step"] < 3 * steps_per_epoch, "fewer steps than the 3 epochs asked"
    assert plan["actual_s"] > 0
    assert any(line.startswith("Time budget 0.0001 min (lowered to fit)") for line in reporter.lines)
