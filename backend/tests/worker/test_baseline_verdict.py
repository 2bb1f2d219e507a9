"""The run's verdicts: does the version beat its baseline on validation (in the metric's direction), is its blend
with the baseline better (and served by default), does it give nearly every text the same label."""

from __future__ import annotations

from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.ml.training.evaluation import classification_metrics
from llm_trainer.worker.runner import baseline_verdict, ensemble_verdict, one_answer_verdict


def test_a_version_below_its_baseline_is_called_out():
    spec = get_spec("classification")
    assert baseline_verdict(spec, {"accuracy": 0.87, "baseline": {"accuracy": 0.89}}) == {
        "baseline": 0.89,
        "beats_baseline": False,
    }
    assert baseline_verdict(spec, {"accuracy": 0.91, "baseline": {"accuracy": 0.89}})["beats_baseline"] is True
    assert baseline_verdict(spec, {"accuracy": 0.91, "baseline": None}) == {}  # no baseline, no verdict


def test_lower_is_better_for_perplexity():
    spec = get_spec("generation")
    assert baseline_verdict(spec, {"perplexity": 8.0, "baseline": {"perplexity": 12.0}})["beats_baseline"] is True
    assert baseline_verdict(spec, {"perplexity": 13.0, "baseline": {"perplexity": 12.0}})["beats_baseline"] is False


def test_the_cli_hears_of_a_better_blend_and_whether_it_answers_by_default():
    record = {"offered": True, "weight": 0.5, "metrics": {"micro_f1": 0.77}}
    ner = ensemble_verdict(get_spec("ner"), "transformer", {"micro_f1": 0.71, "ensemble": record})
    assert ner == {"ensemble_value": 0.77, "ensemble_weight": 0.5, "ensemble_default": True}
    labels = ensemble_verdict(get_spec("multi_label"), "transformer", {"micro_f1": 0.7, "ensemble": record})
    assert labels["ensemble_default"] is True, "every task answers with a blend that beat its model"
    assert ensemble_verdict(get_spec("ner"), "transformer", {"ensemble": {**record, "offered": False}}) == {}


def test_a_model_answering_one_label_for_every_text_is_called_out_with_the_accuracy_of_always_answering_it():
    truth = ["0"] * 64 + ["1"] * 36
    collapsed = classification_metrics(truth, ["0"] * 100, ["0", "1"])
    assert collapsed["accuracy"] == 0.64, "the accuracy alone reads as a model that learned something"
    assert one_answer_verdict(collapsed) == {"one_answer": "0", "one_answer_share": 1.0, "majority_accuracy": 0.64}

    learned = classification_metrics(truth, ["0"] * 60 + ["1"] * 4 + ["1"] * 30 + ["0"] * 6, ["0", "1"])
    assert one_answer_verdict(learned) == {}
    skewed = classification_metrics(["0"] * 97 + ["1"] * 3, ["0"] * 99 + ["1"], ["0", "1"])
    assert one_answer_verdict(skewed) == {}, "a 97 % label answered 99 % of the time is the data, not a collapse"
    assert one_answer_verdict({"micro_f1": 0.5}) == {}, "tasks without single-label answers get no verdict"
