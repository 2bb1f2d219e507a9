"""NER files: every layout reads into the same character spans (end exclusive); bad spans are refused with lines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llm_trainer.core.errors import InvalidInput
from llm_trainer.ml.tasks.ner.data import open_ner_file
from llm_trainer.ml.tasks.ner.tags import best_tag_path, bio_labels, spans_to_bio, tags_to_spans


def ingest(path: Path) -> tuple[list[tuple], dict]:
    opened = open_ner_file(path, path.name, {})
    rows = [r for r in (opened.validator.add(rec) for rec in opened.records) if r is not None]
    report = opened.validator.finish()
    report["source"] = opened.source
    return rows, report


def spans_of(row: tuple) -> list[tuple[int, int, str]]:
    return [(e["start"], e["end"], e["label"]) for e in json.loads(row[6])]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def test_jsonl_spans_are_stored_with_exclusive_end_and_counted_per_type(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "ner.jsonl",
        [
            {
                "text": "浙商银行的叶老桂",
                "entities": [{"start": 0, "end": 4, "label": "company"}, {"start": 5, "end": 8, "label": "name"}],
            },
            {"text": "今天天气不错", "entities": []},
            {"text": "叶老桂来了", "entities": [{"start": 0, "end": 3, "label": "name"}], "split": "dev"},
        ],
    )
    rows, report = ingest(path)
    assert [r[1] for r in rows] == ["浙商银行的叶老桂", "今天天气不错", "叶老桂来了"]
    assert spans_of(rows[0]) == [(0, 4, "company"), (5, 8, "name")]
    assert rows[0][2] == "company,name" and rows[1][2] == ""
    assert rows[2][3] == "validation"
    assert report["label_counts"] == {"name": 2, "company": 1}
    assert report["ner"]["texts_without_entities"] == 1
    assert report["source"]["ner_format"]["layout"] == "spans"


def test_cluener_layout_with_inclusive_ends_reads_as_exclusive_spans(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "clue.json",
        [
            {
                "text": "浙商银行企业信贷部叶老桂博士",
                "label": {"name": {"叶老桂": [[9, 11]]}, "company": {"浙商银行": [[0, 3]]}},
            },
        ],
    )
    rows, report = ingest(path)
    assert sorted(spans_of(rows[0])) == [(0, 4, "company"), (9, 12, "name")]
    assert report["source"]["ner_format"]["layout"] == "cluener"


def test_label_studio_export_reads_the_first_annotation(tmp_path: Path) -> None:
    task = {
        "data": {"text": "我在北京工作"},
        "annotations": [
            {"result": [{"type": "labels", "value": {"start": 2, "end": 4, "text": "北京", "labels": ["address"]}}]}
        ],
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps([task], ensure_ascii=False), encoding="utf-8")
    rows, report = ingest(path)
    assert spans_of(rows[0]) == [(2, 4, "address")]
    assert report["source"]["ner_format"]["layout"] == "label_studio"


@pytest.mark.parametrize(
    ("tags", "scheme"),
    [
        (["B-LOC", "I-LOC", "O", "B-PER", "I-PER"], "BIO"),
        (["B-LOC", "E-LOC", "O", "B-PER", "E-PER"], "BIOES"),
        (["B-LOC", "M-LOC", "O", "S-PER", "S-PER"], "BMES"),
    ],
)
def test_character_per_line_files_become_spans_in_any_scheme(tmp_path: Path, tags: list[str], scheme: str) -> None:
    chars = list("北京在张三")
    lines = [f"{c}\t{t}" for c, t in zip(chars, tags, strict=True)]
    path = tmp_path / "train.bio"
    path.write_text("\n".join(lines) + "\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    rows, report = ingest(path)
    assert rows[0][1] == "北京在张三"
    expected = [(0, 2, "LOC"), (3, 4, "PER"), (4, 5, "PER")] if scheme == "BMES" else [(0, 2, "LOC"), (3, 5, "PER")]
    assert spans_of(rows[0]) == expected
    assert report["dropped"]["duplicate"] == 1
    assert report["source"]["ner_format"]["scheme"] == scheme


def test_bmes_and_word_tokens_keep_offsets_on_the_joined_text(tmp_path: Path) -> None:
    path = tmp_path / "words.conll"
    path.write_text("John B-PER\nlives O\nin O\nNew B-LOC\nYork I-LOC\n", encoding="utf-8")
    rows, _ = ingest(path)
    assert rows[0][1] == "John lives in New York"
    assert [rows[0][1][s:e] for s, e, _ in spans_of(rows[0])] == ["John", "New York"]
    assert tags_to_spans(["B-X", "M-X", "E-X", "S-Y"]) == [(0, 3, "X"), (3, 4, "Y")]


def test_overlapping_out_of_range_and_mismatched_spans_are_refused_with_their_line_numbers(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"text": "北京大学在北京", "entities": [{"start": 0, "end": 4, "label": "org"}]},
            {
                "text": "北京大学",
                "entities": [{"start": 0, "end": 4, "label": "org"}, {"start": 0, "end": 2, "label": "loc"}],
            },
            {"text": "上海", "entities": [{"start": 0, "end": 9, "label": "loc"}]},
            {"text": "广州", "entities": [{"start": 0, "end": 2, "label": "loc", "text": "深圳"}]},
        ],
    )
    rows, report = ingest(path)
    assert len(rows) == 1
    refused = report["ner"]["refused"]
    assert refused["counts"] == {"overlapping": 1, "out_of_range": 1, "mention_mismatch": 1}
    assert refused["lines"] == [2, 3, 4]
    warning = next(w for w in report["warnings"] if w["code"] == "refused_spans")
    assert "lines 2, 3, 4" in warning["message"]


def test_a_file_without_any_entity_is_refused_saying_so(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "none.jsonl", [{"text": "没有实体", "entities": []}])
    with pytest.raises(InvalidInput) as err:
        ingest(path)
    assert err.value.code == "too_few_labels"


def test_the_same_text_with_other_entities_is_a_conflict_kept_out_of_training(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"text": "张三去北京", "entities": [{"start": 0, "end": 2, "label": "name"}]},
            {"text": "张三去北京", "entities": [{"start": 3, "end": 5, "label": "address"}]},
            {"text": "李四", "entities": [{"start": 0, "end": 2, "label": "name"}]},
        ],
    )
    rows, report = ingest(path)
    assert [r[4] for r in rows] == [False, True, False]
    assert report["conflicts"]["texts"] == 1 and report["label_counts"] == {"name": 1}


def test_bio_round_trip_keeps_spans() -> None:
    spans = [(0, 2, "LOC"), (3, 5, "PER")]
    assert tags_to_spans(spans_to_bio(6, spans)) == spans
    assert tags_to_spans(["O", "I-PER", "I-PER", "B-LOC"]) == [(1, 3, "PER"), (3, 4, "LOC")]  # stray I- opens one


def test_decoding_keeps_an_entity_whole_where_token_by_token_tags_would_split_it() -> None:
    # Token by token: O, I-name, I-company, O reads as two one-character entities (name, then company). The best
    # valid BIO sequence makes one name of the two tokens, since I-company cannot follow a name.
    labels = bio_labels(["company", "name"])
    probs = np.full((4, len(labels)), 0.01)
    for i, tag in {0: "O", 1: "I-name", 2: "I-company", 3: "O"}.items():
        probs[i, labels.index(tag)] = 0.5
    probs[1, labels.index("B-name")] = 0.45
    probs[2, labels.index("I-name")] = 0.45
    assert tags_to_spans([labels[int(i)] for i in probs.argmax(axis=1)]) == [(1, 2, "name"), (2, 3, "company")]
    path = [labels[i] for i in best_tag_path(probs, labels)]
    assert path == ["O", "B-name", "I-name", "O"]
