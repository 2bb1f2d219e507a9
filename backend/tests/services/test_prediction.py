"""Prediction use case: input checks, char truncation, default version choice, explicit version and variant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from llm_trainer.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.migrate import upgrade_to_head
from llm_trainer.db.models import ModelVersion
from llm_trainer.services.prediction import clean_texts, predict
from llm_trainer.services.serving import Serving
from tests.helpers.versions import make_tfidf_version, make_version


@pytest.fixture
def serving(settings):
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    s = Serving(settings, make_session_factory(engine))
    yield s
    s.close()
    engine.dispose()


def test_clean_texts_refuses_empty_and_too_many_and_cuts_long_ones():
    with pytest.raises(InvalidInput, match="No text"):
        clean_texts([], 5, 10)
    with pytest.raises(InvalidInput, match="Text 1 is empty") as err:
        clean_texts(["好", "   "], 5, 10)
    assert err.value.code == "empty_text"
    with pytest.raises(PayloadTooLarge, match="at most 2"):
        clean_texts(["a", "b", "c"], 2, 10)
    texts, cut = clean_texts(["短", "长" * 30], 5, 10)
    assert texts == ["短", "长" * 10] and cut == [False, True]


def test_no_version_at_all_is_a_no_model_conflict_not_a_server_error(serving):
    with pytest.raises(Conflict, match="No trained model") as caught:
        predict(serving, ["好吃"])
    assert caught.value.code == "no_model"


def _set_created(serving, version_id, when, status="succeeded"):
    with session_scope(serving.session_factory) as session:
        version = session.get(ModelVersion, version_id)
        version.created_at, version.status = when, status


def test_default_is_the_marked_version_else_the_newest_succeeded(serving, settings):
    now = datetime.now(UTC)
    older = make_version(settings, "older")
    newer = make_tfidf_version(settings, "newer")
    stopped = make_version(settings, "stopped newest")
    _set_created(serving, older, now - timedelta(hours=2))
    _set_created(serving, newer, now - timedelta(hours=1))
    _set_created(serving, stopped, now, status="stopped")
    assert predict(serving, ["好吃"]).model_id == newer  # newest *succeeded*, the stopped one is skipped
    with session_scope(serving.session_factory) as session:
        session.get(ModelVersion, older).is_default = True
    result = predict(serving, ["这家店很好吃，不错"])
    assert (result.model_id, result.variant) == (older, "pytorch")
    assert result.predictions[0].label == "好评"


def test_explicit_version_first_request_pays_the_load_and_long_text_is_flagged(serving, settings):
    version_id = make_version(settings)
    first = predict(serving, ["难吃，太慢", "好吃" * 2000], model_id=version_id)
    assert first.load_ms is not None and first.load_ms > 0
    assert [p.label for p in first.predictions] == ["差评", "好评"]
    assert [p.truncated for p in first.predictions] == [False, True]
    second = predict(serving, ["难吃"], model_id=version_id)
    assert second.load_ms is None
    with pytest.raises(NotFound):
        predict(serving, ["好吃"], model_id=999)
    with pytest.raises(InvalidInput, match="not built yet"):
        predict(serving, ["好吃"], model_id=version_id, variant="onnx_int8")
    with pytest.raises(InvalidInput, match="not available"):
        predict(serving, ["好吃"], model_id=version_id, variant="tfidf")


def test_background_loads_run_one_at_a_time_and_skip_to_the_version_the_user_picked_last(serving):
    release, started, running, loads, peak = threading.Event(), threading.Event(), [], [], []

    def load(name: str):
        def run() -> None:
            running.append(name)
            peak.append(len(running))
            started.set()
            release.wait(10)
            loads.append(name)
            running.remove(name)

        return run

    serving.in_background((1, "pytorch"), load("v1"))
    assert started.wait(10)
    serving.in_background((2, "pytorch"), load("v2"))  # picked while v1 loads ...
    serving.in_background((3, "onnx"), load("v3"))  # ... then another: v2 is no longer wanted
    release.set()
    for _ in range(100):
        if len(loads) == 2 and not serving._loader_busy:
            break
        threading.Event().wait(0.05)
    assert loads == ["v1", "v3"] and max(peak) == 1, "one load at a time"
