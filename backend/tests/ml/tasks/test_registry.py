"""The task registry: every task the build trains is found by its TaskKind; unknown tasks get a clear error."""

from __future__ import annotations

import pytest

from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.tasks import TaskKind
from llm_trainer.ml.tasks.registry import available_tasks, get_spec


def test_classification_is_registered_and_is_the_default_for_rows_without_a_task() -> None:
    assert TaskKind.CLASSIFICATION in available_tasks()
    assert get_spec(None).kind == TaskKind.CLASSIFICATION
    assert get_spec("classification") is get_spec(TaskKind.CLASSIFICATION)


def test_every_registered_spec_names_its_primary_metric_among_its_headline_metrics() -> None:
    for kind in available_tasks():
        spec = get_spec(kind)
        assert spec.kind == kind
        assert spec.primary_metric in spec.headline_metrics


def test_an_unknown_task_is_refused_with_the_available_ones() -> None:
    with pytest.raises(InvalidInput) as err:
        get_spec("summarisation")
    assert err.value.code == "unknown_task"
    assert "classification" in err.value.details["available"]
