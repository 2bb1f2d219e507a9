"""Uploads without a task: the file's layout names its task, and what showed it, for every layout README lists."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from llm_trainer.core.tasks import TaskKind
from llm_trainer.ml.tasks.registry import detect_task


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


LAYOUTS = [
    ("reviews.csv", "text,label\n很好吃,正面\n太难吃了,负面\n", TaskKind.CLASSIFICATION, ["text", "label"]),
    ("reviews.csv", "评论,类别\n很好吃,正面\n太难吃了,负面\n", TaskKind.CLASSIFICATION, ["评论", "类别"]),
    (
        "pairs.csv",
        "text_a,text_b,label\n花呗怎么还,花呗如何还款,1\n借呗额度,花呗账单,0\n",
        TaskKind.PAIR,
        ["text_a", "text_b"],
    ),
    ("pairs.csv", "句子1,句子2,标签\n花呗怎么还,花呗如何还款,1\n", TaskKind.PAIR, ["句子1", "句子2"]),
    ("pairs.tsv", "query\ttitle\tlabel\n花呗\t花呗还款\t1\n", TaskKind.PAIR, ["query", "title"]),
    (
        "aspects.csv",
        "text,labels\n动力足油耗低,动力|油耗\n内饰好,内饰\n空间大价格低,空间|价格\n",
        TaskKind.MULTI_LABEL,
        ["labels"],
    ),
    (
        "aspects.jsonl",
        jsonl(
            {"text": "动力足", "labels": ["动力", "油耗"]},
            {"text": "内饰好", "labels": ["内饰"]},
            {"text": "空间大", "labels": ["空间", "价格"]},
        ),
        TaskKind.MULTI_LABEL,
        ["labels"],
    ),
    (
        "wide.csv",
        "text,动力,油耗,内饰\n动力足油耗低,1,1,0\n内饰好,0,0,1\n",
        TaskKind.MULTI_LABEL,
        ["动力", "油耗", "内饰"],
    ),
    (
        "ner.jsonl",
        jsonl({"text": "张三在北京", "entities": [{"start": 0, "end": 2, "label": "PER"}]}),
        TaskKind.NER,
        ["entities"],
    ),
    (
        "cluener.json",
        json.dumps([{"text": "张三在北京", "label": {"name": {"张三": [[0, 1]]}}}], ensure_ascii=False),
        TaskKind.NER,
        ["label"],
    ),
    (
        "ls.json",
        json.dumps([{"data": {"text": "张三"}, "annotations": [{"result": []}]}]),
        TaskKind.NER,
        ["annotations"],
    ),
    ("people.bio", "张 B-PER\n三 I-PER\n在 O\n北 B-LOC\n京 I-LOC\n\n李 B-PER\n四 I-PER\n", TaskKind.NER, ["BIO"]),
    ("people.txt", "张\tB-PER\n三\tE-PER\n在\tO\n京\tS-LOC\n", TaskKind.NER, ["BIOES"]),
    (
        "chat.jsonl",
        jsonl({"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]}),
        TaskKind.GENERATION,
        ["messages"],
    ),
    (
        "sharegpt.json",
        json.dumps([{"conversations": [{"from": "human", "value": "你好"}, {"from": "gpt", "value": "嗨"}]}]),
        TaskKind.GENERATION,
        ["conversations"],
    ),
    (
        "alpaca.jsonl",
        jsonl({"instruction": "翻译", "input": "hello", "output": "你好"}),
        TaskKind.GENERATION,
        ["instruction", "output"],
    ),
    ("qa.csv", "问题,回答\n你是谁,我是助手\n", TaskKind.GENERATION, ["问题", "回答"]),
]


@pytest.mark.parametrize(("filename", "body", "task", "evidence"), LAYOUTS, ids=[f"{x[2]}-{x[0]}" for x in LAYOUTS])
def test_a_file_layout_names_its_task_and_what_showed_it(tmp_path: Path, filename, body, task, evidence) -> None:
    path = tmp_path / filename
    path.write_text(body, encoding="utf-8")
    detection = detect_task(path, filename)
    assert (detection.task, detection.evidence) == (task, evidence)


def test_a_gbk_workbook_and_a_gbk_csv_are_read_for_detection_like_an_upload(tmp_path: Path) -> None:
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_bytes("句子1,句子2,标签\n花呗怎么还,花呗如何还款,1\n".encode("gbk"))
    assert detect_task(csv_path, "pairs.csv").task == TaskKind.PAIR
    book = openpyxl.Workbook()
    book.active.append(["text", "labels"])
    for text, labels in (("动力足油耗低", "动力、油耗"), ("空间大价格低", "空间、价格"), ("内饰好", "内饰")):
        book.active.append([text, labels])
    book.save(tmp_path / "aspects.xlsx")
    assert detect_task(tmp_path / "aspects.xlsx", "aspects.xlsx").task == TaskKind.MULTI_LABEL


def test_single_labels_in_a_labels_column_are_classification_and_unknown_layouts_name_no_task(tmp_path: Path) -> None:
    single = tmp_path / "single.csv"
    single.write_text("text,labels\n很好吃,正面\n太难吃了,负面\n", encoding="utf-8")
    assert detect_task(single, "single.csv").task == TaskKind.CLASSIFICATION
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("a,b\n1,2\n", encoding="utf-8")
    assert detect_task(unknown, "unknown.csv").task is None
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert detect_task(empty, "empty.csv").task is None
