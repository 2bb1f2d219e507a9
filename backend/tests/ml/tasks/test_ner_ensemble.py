"""The NER ensemble: the token model's tag probabilities spread over characters and decoded together with the
character CRF find an entity boundary inside a tokenizer piece; training records the CRF weight chosen on validation,
and a version that offers the blend serves it with the score its metrics report (through the fast copy once built)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llm_trainer.ml.tasks.ner.alignment import char_probs, decode, encode_windows
from llm_trainer.ml.tasks.ner.ensemble import CrfView, joint_spans
from llm_trainer.ml.tasks.ner.metrics import evaluate
from llm_trainer.ml.tasks.ner.spec import NerSpec, split_ner
from llm_trainer.ml.tasks.ner.tags import bio_labels
from llm_trainer.ml.tasks.spec import ExportCheck, ModelJob, TaskRow
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.version_store import ensemble_dir, write_manifest
from tests.helpers.ner_data import build_piece_tokenizer, ner_records
from tests.helpers.reporters import Recorder
from tests.helpers.tiny_model import build_tiny_bert

LABELS = bio_labels(["name", "city"])


def _rows(probs_by_tag: list[dict[str, float]]) -> np.ndarray:
    out = np.full((len(probs_by_tag), len(LABELS)), 1e-3)
    for i, row in enumerate(probs_by_tag):
        for tag, p in row.items():
            out[i, LABELS.index(tag)] = p
    return out / out.sum(axis=1, keepdims=True)


def test_the_joint_decode_with_the_crf_ends_an_entity_inside_a_piece_the_token_model_cannot_split() -> None:
    # "小明去" is one piece: the name 王小明 ends inside it, so a token tagger can only answer 王 or 王小明去.
    tok = build_piece_tokenizer(["▁王", "小明去", "北京"])
    text = "王小明去北京"
    windows = encode_windows(tok, [text], 16)
    assert [text[o[0] : o[1]] for o in windows[0].offsets if o] == ["王", "小明去", "北京"]
    token_probs = [
        _rows([{"O": 1}, {"B-name": 0.9}, {"I-name": 0.6, "O": 0.4}, {"B-city": 0.9}, {"O": 1}])  # <s> ... </s>
    ]
    [(alone, _)] = decode(1, windows, token_probs, LABELS)
    assert [(text[s:e], lb) for s, e, lb in alone] == [("王小明去", "name"), ("北京", "city")]

    [chars] = char_probs([text], windows, token_probs, LABELS)
    assert chars.positions.tolist() == [0, 1, 2, 3, 4, 5]
    assert chars.share.tolist() == pytest.approx([1, 1 / 3, 1 / 3, 1 / 3, 1 / 2, 1 / 2]), "a token's evidence once"
    # Later characters of a piece continue what it starts: 京 gets I-city where 北京 said B-city.
    beijing = token_probs[0][3]
    b_city, i_city = LABELS.index("B-city"), LABELS.index("I-city")
    assert chars.probs[4, b_city] == pytest.approx(beijing[b_city])
    assert chars.probs[5, i_city] == pytest.approx(beijing[b_city] + beijing[i_city]) and chars.probs[5, b_city] == 0
    crf = _rows(
        [{"B-name": 0.8, "O": 0.2}, {"I-name": 0.8, "O": 0.2}, {"I-name": 0.8, "O": 0.2}, {"O": 0.8, "I-name": 0.2},
         {"B-city": 0.8, "O": 0.2}, {"I-city": 0.8, "O": 0.2}]
    )  # fmt: skip
    view = CrfView(unary=np.log(crf), marginals=crf)
    no_transitions = np.zeros((len(LABELS), len(LABELS)))
    spans, scores = joint_spans(chars, view, no_transitions, 0.5, LABELS)
    assert [(text[s:e], lb) for s, e, lb in spans] == [("王小明", "name"), ("北京", "city")]
    assert all(0.5 < s <= 1 for s in scores)
    assert joint_spans(chars, view, no_transitions, 0.0, LABELS)[0] == alone, "weight 0 is the token model"


def test_an_entity_spans_a_space_inside_it_at_character_level_as_it_does_per_token() -> None:
    tok = build_piece_tokenizer(["▁IBM", "▁北京"])
    text = "IBM 北京"
    windows = encode_windows(tok, [text], 16)
    probs = [_rows([{"O": 1}, {"B-city": 0.9}, {"I-city": 0.9}, {"O": 1}])]
    [chars] = char_probs([text], windows, probs, LABELS)
    assert 3 not in chars.positions.tolist(), "the space is no token's character"
    view = CrfView(unary=np.zeros((5, len(LABELS))), marginals=np.full((5, len(LABELS)), 1 / len(LABELS)))
    spans, _ = joint_spans(chars, view, np.zeros((len(LABELS), len(LABELS))), 0.0, LABELS)
    assert spans == decode(1, windows, probs, LABELS)[0][0] == [(0, 6, "city")]


def test_a_blend_that_cannot_beat_a_perfect_tagger_is_recorded_but_not_offered(tiny_ner) -> None:
    data, trained, folder, _ = tiny_ner
    record = trained.metrics["ensemble"]
    assert trained.metrics["micro_f1"] == 1.0 and record["primary_metric"] == "micro_f1"
    assert [row["weight"] for row in record["by_weight"]] == [i / 10 for i in range(11)]
    assert record["model_value"] == 1.0 and not record["offered"] and record["weight"] == 0.0
    assert not ensemble_dir(folder).exists()
    with pytest.raises(FileNotFoundError):
        NerSpec().load_predictor(folder, "transformer", "ensemble")
    assert NerSpec().default_variant("transformer", trained.metrics) == "pytorch"


def test_an_undertrained_tagger_blended_with_its_crf_is_served_by_default_with_the_score_training_reported(
    tmp_path: Path,
) -> None:
    records = ner_records(150)
    rows = [TaskRow(r["text"], "", None, None, r["entities"]) for r in records]
    config = TrainingConfig(epochs=3, batch_size=16, learning_rate=3e-3, freeze_embeddings=False, max_length=32,
                            seed=1, save_strategy="no", time_budget_minutes=0)  # fmt: skip
    data = split_ner(rows, config)
    base = build_tiny_bert(tmp_path / "base", [r["text"] for r in records])
    trained = NerSpec().train_model(
        data, ModelJob(str(base), config, tmp_path / "work", tmp_path / "cache"), Recorder()
    )
    record = trained.metrics["ensemble"]
    assert record["model_value"] == pytest.approx(trained.metrics["micro_f1"]), "weight 0 is the model as served"
    assert trained.metrics["micro_f1"] < 0.95, "3 epochs leave the tiny tagger room to improve"
    assert record["offered"] and record["weight"] > 0 and record["metrics"]["micro_f1"] > record["model_value"]
    assert NerSpec().default_variant("transformer", trained.metrics) == "ensemble", "the better answer by default"
    folder = tmp_path / "version"
    folder.mkdir()
    write_manifest(folder, {"task": "ner", "max_length": trained.max_length, **trained.manifest_extra})  # as the worker
    trained.write_files(folder)
    assert sorted(p.name for p in ensemble_dir(folder).iterdir()) == ["ner_crf.crfsuite", "ner_crf.json"]
    predictor = NerSpec().load_predictor(folder, "transformer", "ensemble")
    assert predictor.served == {"model_variant": "pytorch", "baseline": "crf", "baseline_weight": record["weight"]}
    answers = predictor.predict(data.val_texts)
    assert all(a.text[e.start : e.end] == e.text and 0 < e.score <= 1 for a in answers for e in a.entities)
    pred = [[(e.start, e.end, e.label) for e in a.entities] for a in answers]
    served = evaluate(data.val_texts, data.val_spans, pred, data.labels)["micro_f1"]
    assert served == pytest.approx(record["metrics"]["micro_f1"])

    # Once the fast copy is built, the blend reads it and still answers what training measured.
    report = NerSpec().export_and_compare(folder, "onnx", ExportCheck(data.val_texts))["onnx"]
    assert report["agreement"] == 1.0 and report["max_probability_diff"] < 1e-4, report
    fast = NerSpec().load_predictor(folder, "transformer", "ensemble")
    assert fast.served["model_variant"] == "onnx"
    assert [[(e.start, e.end, e.label) for e in a.entities] for a in fast.predict(data.val_texts)] == pred


def test_a_version_trained_before_ner_ensembles_refuses_the_ensemble_variant(tmp_path: Path) -> None:
    write_manifest(tmp_path, {"max_length": 32})
    with pytest.raises(FileNotFoundError):
        NerSpec().load_predictor(tmp_path, "transformer", "ensemble")
