"""Validation report: cleaning, duplicates, conflicts, label normalisation, warnings, errors, length stats."""

from __future__ import annotations

import pytest

from llm_trainer.core.errors import InvalidInput
from llm_trainer.datafiles.columns import choose_columns
from llm_trainer.datafiles.validate import DatasetValidator


def run(rows: list[list[str]], columns: tuple[str, ...] = ("text", "label")) -> tuple[list[tuple], DatasetValidator]:
    validator = DatasetValidator(choose_columns(list(columns)))
    kept = [r for r in map(validator.add, rows) if r is not None]
    return kept, validator


def balanced(n_per_class: int, labels: tuple[str, ...] = ("好评", "差评")) -> list[list[str]]:
    return [[f"{label}样本{i}", label] for label in labels for i in range(n_per_class)]


def test_empty_texts_labels_and_exact_duplicates_are_dropped() -> None:
    rows = balanced(10) + [["  ", "好评"], ["有字", "  "], ["好评样本1", "好评"], ["\u3000", "差评"]]
    kept, v = run(rows)
    report = v.finish()
    assert len(kept) == 20
    assert report["rows_read"] == 24
    assert report["rows_kept"] == report["trainable_rows"] == 20
    assert report["dropped"] == {"empty_text": 2, "empty_label": 1, "duplicate": 1, "malformed": 0}


def test_texts_are_trimmed_before_comparison() -> None:
    kept, v = run(balanced(10) + [["  好评样本3 ", "好评"]])
    assert len(kept) == 20
    assert v.finish()["dropped"]["duplicate"] == 1


def test_same_text_with_different_labels_is_kept_flagged_and_left_out_of_counts() -> None:
    rows = balanced(12) + [["好评样本0", "差评"], ["好评样本0", "好评"], ["好评样本0", "中评"]]
    kept, v = run(rows)
    report = v.finish()
    flagged = [r for r in kept if r[4]]
    assert [(r[0], r[2]) for r in flagged] == [(24, "差评"), (26, "中评")]  # the exact repeat (idx 25) is dropped
    assert v.conflict_first_idxs == [0]  # the first occurrence, stored before the conflict was seen
    assert report["conflicts"]["texts"] == 1
    assert report["conflicts"]["rows"] == 3
    example = {"text": "好评样本0", "labels": ["好评", "差评", "中评"], "first_idx": 0}
    assert report["conflicts"]["examples"] == [example]
    assert report["label_counts"] == {"差评": 12, "好评": 11}  # 中评 only exists in a conflict
    assert report["trainable_rows"] == 23
    assert "label_conflicts" in {w["code"] for w in report["warnings"]}


def test_labels_are_normalised() -> None:
    rows = [[f"文本{i}", lbl] for i, lbl in enumerate([" 正面", "正面\u3000", "\u3000正面", "负面", "１", "1"] * 10)]
    kept, v = run(rows)
    report = v.finish()
    assert report["label_counts"] == {"1": 20, "正面": 30, "负面": 10}
    changes = {c["original"]: c["normalised"] for c in report["labels_normalised"]}
    assert changes == {" 正面": "正面", "正面\u3000": "正面", "\u3000正面": "正面", "１": "1"}
    assert {r[2] for r in kept} == {"正面", "负面", "1"}


def test_balanced_data_has_no_warnings() -> None:
    _, v = run(balanced(10))
    assert v.finish()["warnings"] == []


def test_imbalance_and_small_classes_are_warned() -> None:
    rows = [[f"好{i}", "好评"] for i in range(110)] + [[f"差{i}", "差评"] for i in range(10)]
    rows += [[f"中{i}", "中评"] for i in range(3)]
    _, v = run(rows)
    warnings = {w["code"]: w for w in v.finish()["warnings"]}
    assert set(warnings) == {"class_imbalance", "small_classes"}
    assert warnings["class_imbalance"]["details"] == {"ratio": 36.67, "largest": 110, "smallest": 3}
    assert warnings["small_classes"]["details"]["labels"] == {"中评": 3}


def test_imbalance_at_exactly_ten_is_accepted() -> None:
    rows = [[f"好{i}", "好评"] for i in range(100)] + [[f"差{i}", "差评"] for i in range(10)]
    _, v = run(rows)
    assert v.finish()["warnings"] == []


def test_fewer_than_two_labels_is_an_error() -> None:
    _, v = run([[f"文本{i}", "好评"] for i in range(30)])
    with pytest.raises(InvalidInput) as err:
        v.finish()
    assert err.value.code == "too_few_labels"
    assert err.value.details["labels"] == {"好评": 30}


def test_labels_only_in_conflicts_do_not_count_as_classes() -> None:
    _, v = run([[f"文本{i}", "好评"] for i in range(30)] + [["文本0", "差评"]])
    with pytest.raises(InvalidInput) as err:
        v.finish()
    assert err.value.code == "too_few_labels"


def test_no_usable_rows_is_an_error() -> None:
    _, v = run([["", "a"], ["b", ""]])
    with pytest.raises(InvalidInput) as err:
        v.finish()
    assert err.value.code == "empty_dataset"
    assert err.value.details["rows_read"] == 2


def test_free_text_in_the_label_column_is_refused_early() -> None:
    validator = DatasetValidator(choose_columns(["text", "label"]))
    with pytest.raises(InvalidInput) as err:
        for i in range(2000):
            validator.add([f"文本{i}", f"其实是一句话{i}"])
    assert err.value.code == "too_many_labels"


def test_rows_with_too_few_cells_are_dropped_and_listed() -> None:
    _, v = run(balanced(10) + [["只有文本"], []])
    report = v.finish()
    assert report["dropped"]["malformed"] == 2
    assert report["malformed_rows"] == [20, 21]
    assert "malformed_rows" in {w["code"] for w in report["warnings"]}


def test_split_column_is_normalised_and_counted() -> None:
    rows = [[f"文本{i}", "ab"[i % 2], ["train", "dev", "测试", "", "later"][i % 5]] for i in range(20)]
    kept, v = run(rows, ("text", "label", "split"))
    report = v.finish()
    assert report["split_counts"] == {"train": 4, "validation": 4, "test": 4}
    assert [r[3] for r in kept[:5]] == ["train", "validation", "test", None, None]
    assert {w["code"]: w["details"] for w in report["warnings"]}["unknown_split_values"] == {"values": {"later": 4}}


def test_text_length_stats() -> None:
    rows = [["字" * n, "ab"[n % 2]] for n in range(1, 101)]  # lengths 1..100
    _, v = run(rows)
    stats = v.finish()["text_length"]
    assert (stats["min"], stats["max"], stats["mean"], stats["median"]) == (1, 100, 50.5, 50.5)
    # Shown as stored: interpolated percentiles are rounded to one decimal, never 95.05000000000001.
    assert stats["p95"] == pytest.approx(95.05, abs=0.051)
    assert stats["p95"] == round(stats["p95"], 1)
    assert sum(b["count"] for b in stats["histogram"]) == 100
    assert stats["histogram"][0]["start"] == 0
    assert stats["histogram"][-1]["end"] == 100
    assert len(stats["histogram"]) <= 20


def test_content_hash_depends_on_normalised_content_only() -> None:
    _, a = run([["好", "正面"], ["差", "负面"]])
    _, b = run([[" 好 ", "正面\u3000"], ["差", "负面"], ["差", "负面"]])
    _, c = run([["好", "负面"], ["差", "正面"]])
    assert a.content_hash == b.content_hash != c.content_hash
