"""The ensemble serving variant: the TF-IDF baseline's weight is chosen on validation, recorded on the version, the
baseline is kept only when the blend beats the transformer, and the variant answers with blended probabilities, for
classification, sentence pairs and multi-label (thresholds re-tuned on the blend)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from llm_trainer.ml.baseline import load_baseline
from llm_trainer.ml.ensemble import ENSEMBLE, WEIGHTS, align_columns, attach_ensemble, choose_weight
from llm_trainer.ml.inference.loading import load_predictor
from llm_trainer.ml.tasks.classification.training import scorer
from llm_trainer.ml.tasks.multi_label.spec import _fold_rule as ml_fold_rule
from llm_trainer.ml.tasks.multi_label.spec import _scorer as ml_scorer
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.ml.tasks.spec import ModelJob, TaskRow, TrainedVersion
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.ml.training.data import Split
from llm_trainer.ml.version_store import ensemble_dir, read_manifest, write_manifest
from tests.helpers.tiny_model import build_tiny_bert
from tests.helpers.versions import NEGATIVE_WORDS, POSITIVE_WORDS, review_texts

LABELS = ["差评", "好评"]


def _probs(good: list[float]) -> np.ndarray:
    """[n, 2] probabilities in LABELS order from each row's probability of 好评."""
    good_arr = np.asarray(good)
    return np.column_stack([1 - good_arr, good_arr])


def _validation() -> tuple[Split, np.ndarray, np.ndarray]:
    """20 validation texts: the model is sure and right on 16 but unsure and wrong on 4 positives, which the
    baseline gets right; the baseline is wrong on 2 negatives the model is sure about."""
    truth = ["好评"] * 10 + ["差评"] * 10
    split = Split([], [], [f"text {i}" for i in range(20)], truth, LABELS)
    model = [0.4] * 4 + [0.9] * 6 + [0.1] * 10
    baseline = [0.8] * 4 + [0.6] * 6 + [0.7] * 2 + [0.4] * 8
    return split, _probs(model), _probs(baseline)


def test_the_baseline_weight_is_chosen_on_validation_where_the_blend_fixes_the_models_mistakes() -> None:
    split, model, baseline = _validation()
    choice = choose_weight(model, baseline, scorer(split), "accuracy")
    # Above 0.25 the baseline flips the 4 unsure positives; from 0.7 its 2 wrong negatives flip too.
    assert choice.weight == pytest.approx(0.3) and choice.beats_model
    assert choice.model_value == pytest.approx(0.8) and choice.metrics["accuracy"] == pytest.approx(1.0)
    record = choice.record("accuracy")
    assert record["offered"] and [row["weight"] for row in record["by_weight"]] == list(WEIGHTS)
    assert record["by_weight"][0]["accuracy"] == pytest.approx(0.8) and record["by_weight"][-1]["accuracy"] == 0.9


def test_a_blend_that_does_not_beat_the_model_is_recorded_but_not_offered_or_saved(tmp_path: Path) -> None:
    split, model, _ = _validation()
    useless = _probs([0.5] * 20)  # the baseline cannot tell the labels apart: every blend ties or loses
    trained = TrainedVersion("transformer", LABELS, {"accuracy": 0.8}, write_files=lambda folder: None)
    attach_ensemble(trained, model, (object(), useless), scorer(split), "accuracy")
    record = trained.metrics["ensemble"]
    assert record["weight"] == 0.0 and not record["beats_model"] and not record["offered"]
    assert record["metrics"]["accuracy"] == pytest.approx(0.8) and "ensemble" not in trained.manifest_extra
    trained.write_files(tmp_path)
    assert not ensemble_dir(tmp_path).exists()
    with pytest.raises(FileNotFoundError):
        load_predictor(tmp_path, "transformer", ENSEMBLE)


def test_a_blend_with_a_baseline_that_knows_nothing_is_never_offered_though_a_weight_fits_the_scored_texts() -> None:
    fitted_noise = []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        truth = rng.integers(0, 2, 200)
        confident = rng.uniform(0.5, 1.0, 200)
        good = np.where(truth == 1, confident, 1 - confident)
        good = np.where(rng.random(200) < 0.8, good, 1 - good)  # the model is right on about 80 %
        split = Split([], [], [f"text {i}" for i in range(200)], [LABELS[t] for t in truth], LABELS)
        choice = choose_weight(_probs(good), _probs(rng.uniform(0, 1, 200)), scorer(split), "accuracy")
        record = choice.record("accuracy")
        assert not record["offered"], (seed, record)
        assert record["cross_fitted_value"] <= record["model_value"] and len(record["fold_weights"]) == 5
        if choice.metrics["accuracy"] > choice.model_value:
            fitted_noise.append(seed)  # a weight beat the model on the texts it was chosen on
    assert fitted_noise, "some seed must let a weight fit noise, or this test shows nothing"


def test_a_multi_label_blend_is_scored_on_the_same_folds_as_the_model_so_a_blend_with_itself_ties_it() -> None:
    rng = np.random.default_rng(3)
    labels = [f"aspect {j}" for j in range(6)]
    truth = rng.random((300, 6)) < 0.25
    probs = np.clip(0.3 + 0.4 * truth + rng.normal(0, 0.25, truth.shape), 0.01, 0.99)
    split = Split([], [], ["text"] * 300, [[labels[j] for j in np.flatnonzero(r)] for r in truth], labels)
    choice = choose_weight(probs, probs.copy(), ml_scorer(split), "micro_f1", fold_rule=ml_fold_rule(split))
    # Every weight blends the model with itself: thresholds fitted on the same folds give the model's own score.
    assert choice.cross_fitted_value == pytest.approx(choice.model_value, abs=1e-12)
    assert not choice.beats_model and choice.weight == 0.0


def _reviews(n: int, seed: int) -> list[TaskRow]:
    return [TaskRow(text, label, None) for text, label in review_texts(n, seed)]


def _pairs(n: int, seed: int) -> list[TaskRow]:
    """Two reviews; 1 when they share their sentiment."""
    rng = random.Random(seed)
    reviews = review_texts(n * 2, seed)
    rows = []
    for i in range(n):
        (a, la), (b, lb) = reviews[2 * i], reviews[rng.randrange(len(reviews))]
        rows.append(TaskRow(a, "1" if la == lb else "0", None, b))
    return rows


def _aspects(n: int, seed: int) -> list[TaskRow]:
    """Reviews tagged with the aspects they talk about (one or two of three)."""
    rng = random.Random(seed)
    words = {
        "味道": POSITIVE_WORDS[:2] + NEGATIVE_WORDS[:1],
        "服务": ["服务很好", "服务差"],
        "配送": ["送餐太慢", "凉了"],
    }
    rows = []
    for i in range(n):
        chosen = sorted(rng.sample(list(words), 1 + i % 2))
        text = "，".join(rng.choice(words[a]) for a in chosen)
        rows.append(TaskRow(text, "|".join(chosen), None, None, chosen))
    return rows


class Quiet:
    def progress(self, snapshot: dict) -> None:
        pass

    def metric(self, kind: str, step: int, epoch: float, values: dict) -> None:
        pass

    def stop_requested(self) -> bool:
        return False

    def info(self, message: str) -> None:
        pass


@pytest.mark.parametrize("task, rows", [("classification", _reviews), ("pair", _pairs), ("multi_label", _aspects)])
def test_a_trained_version_records_its_blend_and_serves_it_with_blended_probabilities(
    task: str, rows, tmp_path: Path
) -> None:
    spec = get_spec(task)
    data_rows = rows(120, 3)
    base = build_tiny_bert(tmp_path / "base", [r.text for r in data_rows] + [r.text_b or "" for r in data_rows])
    config = TrainingConfig(epochs=1, batch_size=16, learning_rate=1e-3, max_length=32, seed=1, save_strategy="no",
                            fast_serving=False, time_budget_minutes=0)  # fmt: skip
    data = spec.prepare(data_rows, config)
    trained = spec.train_model(data, ModelJob(str(base), config, tmp_path / "run", tmp_path / "cache"), Quiet())

    record = trained.metrics["ensemble"]
    primary = spec.primary_metric
    assert record["primary_metric"] == primary and record["weight"] in WEIGHTS
    assert record["model_value"] == pytest.approx(trained.metrics[primary]), "w = 0 is the transformer alone"
    best = max(row[primary] for row in record["by_weight"])
    assert record["metrics"][primary] == pytest.approx(best)
    # One epoch of a tiny random BERT is weak and the TF-IDF baseline strong: here the blend wins.
    assert record["beats_model"] and record["offered"] and record["weight"] > 0

    folder = tmp_path / "version"
    folder.mkdir()
    write_manifest(folder, {"task": task, "labels": data.labels, "max_length": trained.max_length,
                            **trained.manifest_extra})  # fmt: skip
    trained.write_files(folder)
    assert (ensemble_dir(folder) / "baseline.skops").is_file()

    inputs = list(data.val_texts[:6])
    weight = record["weight"]
    model = spec.load_predictor(folder, "transformer", "pytorch")
    ensemble = spec.load_predictor(folder, "transformer", ENSEMBLE)
    model_probs = model.base.scored(inputs)[0] if task == "multi_label" else model.scored(inputs)[0]
    pipeline = load_baseline(ensemble_dir(folder))  # one-vs-rest columns are label numbers, in label order
    columns = data.labels if task == "multi_label" else [str(c) for c in pipeline.classes_]
    expected = (1 - weight) * model_probs + weight * align_columns(pipeline.predict_proba(inputs), columns, data.labels)
    answers = ensemble.predict(inputs)
    assert ensemble.served == {"model_variant": "pytorch", "baseline": "tfidf", "baseline_weight": weight}
    for row, answer in zip(expected, answers, strict=True):
        got = {item[0]: item[1] for item in answer.probabilities}
        assert [got[name] for name in data.labels] == pytest.approx(list(row))
    if task == "multi_label":  # answered at the thresholds tuned on the blend, not the transformer's
        tuned = read_manifest(folder)["ensemble"]["thresholds"]["per_label"]
        assert ensemble.thresholds == [tuned[name] for name in data.labels]
        assert all(answer.labels == [n for n, p, t in answer.probabilities if p >= t] for answer in answers)
    else:
        assert [a.label for a in answers] == [data.labels[int(np.argmax(r))] for r in expected]


def test_threshold_edits_change_the_answers_of_the_variant_that_answers_and_leave_the_others_alone(
    tmp_path: Path,
) -> None:
    spec = get_spec("multi_label")
    data_rows = _aspects(120, 3)
    base = build_tiny_bert(tmp_path / "base", [r.text for r in data_rows])
    config = TrainingConfig(epochs=1, batch_size=16, learning_rate=1e-3, max_length=32, seed=1, save_strategy="no",
                            fast_serving=False, time_budget_minutes=0)  # fmt: skip
    data = spec.prepare(data_rows, config)
    trained = spec.train_model(data, ModelJob(str(base), config, tmp_path / "run", tmp_path / "cache"), Quiet())
    assert trained.metrics["ensemble"]["offered"]
    folder = tmp_path / "version"
    folder.mkdir()
    write_manifest(folder, {"task": "multi_label", "labels": data.labels, "max_length": trained.max_length,
                            **trained.manifest_extra})  # fmt: skip
    trained.write_files(folder)
    model_thresholds = spec.version_settings(folder, "pytorch")["thresholds"]
    shown = spec.version_settings(folder, ENSEMBLE)
    assert shown["variant"] == ENSEMBLE and shown["thresholds"] == read_manifest(folder)["ensemble"]["thresholds"]

    spec.update_version_settings(folder, ENSEMBLE, {"thresholds": {"mode": "global", "global": 0.01}})
    [blended] = spec.load_predictor(folder, "transformer", ENSEMBLE).predict(["服务很好"])
    assert sorted(blended.labels) == sorted(data.labels), "a threshold of 0.01 lets every label pass"
    assert spec.version_settings(folder, "pytorch")["thresholds"] == model_thresholds
    assert read_manifest(folder)["ensemble"]["weight"] == trained.manifest_extra["ensemble"]["weight"]
    model = spec.load_predictor(folder, "transformer", "pytorch")
    assert model.thresholds == [model_thresholds["per_label"][name] for name in data.labels]
