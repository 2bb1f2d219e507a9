"""Choosing text/label/split columns: defaults, explicit names, guesses from common headers."""

from __future__ import annotations

import pytest

from llm_trainer.core.errors import InvalidInput
from llm_trainer.datafiles.columns import choose_columns, normalize_split


def test_defaults_match_case_insensitively_and_are_not_reported_as_guesses() -> None:
    choice = choose_columns(["ID", "Label", "TEXT"])
    assert (choice.text, choice.text_index, choice.label, choice.label_index) == ("TEXT", 2, "Label", 1)
    assert choice.guessed == {}
    assert choice.split is None


@pytest.mark.parametrize(
    ("columns", "text", "label"),
    [
        (["评论", "标签"], "评论", "标签"),
        (["序号", "句子", "类别"], "句子", "类别"),
        (["内容", "分类"], "内容", "分类"),
        (["review", "class"], "review", "class"),
        (["sentence", "cat"], "sentence", "cat"),
        (["评论内容", "情感标签"], "评论内容", "情感标签"),
        (["review_text", "category_id"], "review_text", "category_id"),
    ],
)
def test_common_headers_are_guessed_and_reported(columns: list[str], text: str, label: str) -> None:
    choice = choose_columns(columns)
    assert (choice.text, choice.label) == (text, label)
    assert choice.guessed == {"text": text, "label": label}


def test_short_english_names_only_match_exactly() -> None:
    with pytest.raises(InvalidInput) as err:
        choose_columns(["content", "location"])  # "location" contains "cat" but is no label
    assert err.value.code == "missing_columns"
    assert err.value.details["available"] == ["content", "location"]
    assert err.value.details["role"] == "label"


def test_explicit_columns_win_over_defaults() -> None:
    choice = choose_columns(["text", "label", "正文", "星级"], text_column="正文", label_column="星级")
    assert (choice.text, choice.label, choice.guessed) == ("正文", "星级", {})


@pytest.mark.parametrize(("text_column", "label_column", "role"), [("正文", None, "text"), (None, "星级", "label")])
def test_explicit_column_that_does_not_exist_lists_the_available_ones(
    text_column: str | None, label_column: str | None, role: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        choose_columns(["text", "label"], text_column=text_column, label_column=label_column)
    assert err.value.code == "missing_columns"
    assert err.value.details == {"role": role, "requested": text_column or label_column, "available": ["text", "label"]}
    assert "text, label" in err.value.message


def test_no_recognisable_text_column() -> None:
    with pytest.raises(InvalidInput) as err:
        choose_columns(["a", "b"])
    assert (err.value.code, err.value.details["role"]) == ("missing_columns", "text")


def test_label_is_optional_for_unlabelled_files() -> None:
    choice = choose_columns(["text", "id"], require_label=False)
    assert (choice.text, choice.label, choice.label_index) == ("text", None, None)


def test_split_column_is_found() -> None:
    assert choose_columns(["text", "label", "Split"]).split_index == 2
    assert choose_columns(["文本", "标签", "数据集划分"]).split == "数据集划分"


@pytest.mark.parametrize(
    ("raw", "split"),
    [
        ("train", "train"),
        (" Train ", "train"),
        ("训练集", "train"),
        ("dev", "validation"),
        ("val", "validation"),
        ("valid", "validation"),
        ("VALIDATION", "validation"),
        ("验证", "validation"),
        ("test", "test"),
        ("测试集", "test"),
        ("", None),
        ("holdout", None),
    ],
)
def test_split_aliases(raw: str, split: str | None) -> None:
    assert normalize_split(raw) == split
