"""TF-IDF baseline: accuracy on the real waimai_10k split, and a save/load round trip that predicts the same."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from llm_trainer.core.errors import InvalidInput, NotFound
from llm_trainer.ml.baseline import is_baseline_dir, load_baseline, predict_proba, save_baseline, train_baseline
from tests.conftest import SHARED_DATASETS

WAIMAI = SHARED_DATASETS / "waimai_10k.csv"


@pytest.mark.skipif(not WAIMAI.is_file(), reason="shared dataset not present")
def test_baseline_reaches_088_on_waimai_and_round_trips(tmp_path: Path) -> None:
    from sklearn.model_selection import train_test_split

    with open(WAIMAI, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    tr_x, va_x, tr_y, va_y = train_test_split(texts, labels, test_size=0.2, stratify=labels, random_state=0)

    pipeline, metrics = train_baseline(tr_x, tr_y, va_x, va_y)
    assert metrics["accuracy"] >= 0.88
    assert 0 < metrics["macro_f1"] <= 1 and 0 < metrics["weighted_f1"] <= 1

    folder = save_baseline(pipeline, tmp_path / "version", {"dataset": "waimai_10k"})
    assert is_baseline_dir(folder)
    classes, probs = predict_proba(load_baseline(folder), va_x[:50])
    assert classes == ["0", "1"]
    np.testing.assert_allclose(probs, pipeline.predict_proba(va_x[:50]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_load_from_a_folder_without_baseline_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as err:
        load_baseline(tmp_path)
    assert err.value.code == "baseline_missing"


def test_a_pair_baseline_saved_by_a_run_loads_back_and_predicts(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from llm_trainer.ml.tasks.pair.baseline import fit_pair_baseline

    pairs = [("今天天气怎么样", "今天天气如何"), ("我要退款", "怎么申请退款"), ("你好", "明天见"), ("价格", "几点开门")]
    pipeline = fit_pair_baseline(SimpleNamespace(train_texts=pairs * 5, train_labels=[1, 1, 0, 0] * 5))
    folder = save_baseline(pipeline, tmp_path / "version")
    reloaded = load_baseline(folder)
    query = [("我要退款", "怎么申请退款")]
    assert list(reloaded.predict(query)) == list(pipeline.predict(query))


def test_a_baseline_file_with_foreign_types_is_refused_with_a_fix(tmp_path: Path) -> None:
    import zipfile

    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    (tmp_path / "version").mkdir()
    target = tmp_path / "version" / "baseline.skops"
    skops.io.dump(FunctionTransformer(func=print), target, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(InvalidInput) as err:
        load_baseline(tmp_path / "version")
    assert err.value.code == "baseline_untrusted" and "train the baseline again" in err.value.message
