"""The run page's baseline verdict: does the version beat its baseline on validation, in the metric's direction."""

from __future__ import annotations

from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.worker.runner import baseline_verdict


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
