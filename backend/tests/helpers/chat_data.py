"""Small generated instruction data (Alpaca JSONL) a tiny causal LM can learn in seconds, for generation tests."""

from __future__ import annotations

import json

COLOURS = {"苹果": "红色", "香蕉": "黄色", "草莓": "红色", "葡萄": "紫色", "橙子": "橙色", "西瓜": "绿色"}


def alpaca_records(n: int) -> list[dict[str, str]]:
    """`n` distinct 'what colour is X' questions whose answers follow one pattern."""
    fruits = list(COLOURS)
    records = []
    for i in range(n):
        fruit = fruits[i % len(fruits)]
        records.append(
            {"instruction": f"{fruit}是什么颜色？（编号{i}）", "input": "", "output": f"{fruit}是{COLOURS[fruit]}的。"}
        )
    return records


def alpaca_jsonl(n: int) -> bytes:
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in alpaca_records(n)) + "\n").encode("utf-8")


def chat_texts(n: int) -> list[str]:
    """Every text of the data, to train the tiny model's tokenizer on."""
    return [t for r in alpaca_records(n) for t in r.values()] + ["user model system 你好"]
