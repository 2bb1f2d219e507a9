"""Generation files: Alpaca, messages (ShareGPT/OpenAI) and prompt/response tables read into one conversation shape;
the report counts turns, lengths, empty answers and duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_trainer.core.errors import InvalidInput
from llm_trainer.ml.tasks.registry import get_spec
from tests.conftest import SHARED_DATASETS
from tests.helpers.datafiles import write_csv


def ingest(path: Path, columns: dict | None = None) -> tuple[list[tuple], dict]:
    opened = get_spec("generation").open_ingest(path, path.name, columns or {})
    rows = [r for r in (opened.validator.add(rec) for rec in opened.records) if r is not None]
    report = opened.validator.finish()
    return rows, report


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


def test_alpaca_rows_become_conversations_with_input_system_and_history(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [
        {"instruction": "翻译成英文", "input": "你好", "output": "Hello", "system": "你是翻译"},
        {"instruction": "再来一个", "input": "", "output": "Again", "history": [["一", "One"]]},
        {"instruction": "空回答", "input": "", "output": "  "},
        {"instruction": "翻译成英文", "input": "你好", "output": "Hello", "system": "你是翻译"},
    ])  # fmt: skip
    rows, report = ingest(path)
    assert [json.loads(r[6]) for r in rows] == [
        [{"role": "system", "content": "你是翻译"}, {"role": "user", "content": "翻译成英文\n\n你好"},
         {"role": "assistant", "content": "Hello"}],
        [{"role": "user", "content": "一"}, {"role": "assistant", "content": "One"},
         {"role": "user", "content": "再来一个"}, {"role": "assistant", "content": "Again"}],
    ]  # fmt: skip
    assert rows[0][1] == "翻译成英文\n\n你好" and rows[1][2] == "2 turns"
    gen = report["generation"]
    assert gen["layout"] == "alpaca" and gen["turns"] == 3 and gen["multi_turn"] == 1
    assert gen["empty_responses"] == 1 and gen["duplicates"] == 1 and gen["with_system_prompt"] == 1
    assert {w["code"] for w in report["warnings"]} >= {"empty_responses", "duplicates"}
    assert report["label_counts"] == {"1 turn": 1, "2 turns": 1}


def test_messages_with_sharegpt_roles_and_trailing_user_turns(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [
        {"conversations": [{"from": "human", "value": "你好"}, {"from": "gpt", "value": "你好！"},
                           {"from": "human", "value": "再见"}]},
        {"messages": [{"role": "robot", "content": "x"}]},
        {"messages": [{"role": "user", "content": "只有问题"}]},
    ])  # fmt: skip
    rows, report = ingest(path)
    assert json.loads(rows[0][6]) == [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]
    gen = report["generation"]
    assert gen["trailing_user_turns_dropped"] == 2
    assert [r["code"] for r in gen["refused"]] == ["malformed", "no_answer"]
    assert gen["refused"][0]["line"] == 2 and "unknown role" in gen["refused"][0]["message"]


@pytest.mark.parametrize(
    ("header", "expected_prompt"),
    [(["prompt", "response"], "问"), (["问题", "回答"], "问"), (["指令", "输入", "输出"], "问\n\n补充")],
)
def test_tables_with_english_and_chinese_headers(tmp_path: Path, header: list[str], expected_prompt: str) -> None:
    cells = ["问", "补充", "答"] if len(header) == 3 else ["问", "答"]
    rows, report = ingest(write_csv(tmp_path / "t.csv", [cells], header))
    assert json.loads(rows[0][6]) == [{"role": "user", "content": expected_prompt},
                                      {"role": "assistant", "content": "答"}]  # fmt: skip
    assert report["generation"]["layout"] == "prompt_response"


def test_a_file_without_conversations_is_refused_with_the_layouts_to_use(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        ingest(write_jsonl(tmp_path / "x.jsonl", [{"text": "a", "label": "b"}]))
    assert err.value.code == "empty_dataset" and "instruction" in err.value.message


@pytest.mark.parametrize("name", ["alpaca_zh_demo_1k.jsonl", "sharegpt_zh_1k.jsonl"])
def test_the_shared_sft_sets_read_whole(name: str) -> None:
    path = SHARED_DATASETS / "sft" / name
    if not path.exists():
        pytest.skip("shared datasets not present")
    rows, report = ingest(path)
    assert report["rows_read"] >= 990 and report["rows_kept"] >= 0.95 * report["rows_read"]
    if name.startswith("sharegpt"):
        assert report["generation"]["layout"] == "messages" and report["generation"]["multi_turn"] > 500
