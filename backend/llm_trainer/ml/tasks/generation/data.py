"""Instruction / chat files for SFT: Alpaca JSONL, ShareGPT/OpenAI `messages` JSONL and prompt/response tables,
read into one typed `Conversation` each, and validated (turns, prompt/response lengths, empty and duplicate examples).

Layouts, detected per record (the first one is reported):
- `alpaca`: `instruction`, optional `input` (appended to the instruction after a blank line), `output`, optional
  `system` and `history` ([[question, answer], ...] turns before the instruction).
- `messages`: `messages` (or ShareGPT `conversations`) as a list of `{role, content}` (or `{from, value}`) with
  roles user/assistant/system (human/gpt/bot/model accepted), multi-turn; an optional top-level `system`.
- `prompt_response`: a table (CSV/TSV/XLSX, or flat JSON) with prompt + response columns; Chinese headers
  问题/回答 and 指令/输入/输出 are recognised.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from llm_trainer.core.errors import InvalidInput
from llm_trainer.datafiles.columns import SPLIT_NAMES, SPLITS, normalize_split, resolve_column
from llm_trainer.datafiles.reader import Table, numbered_objects, open_table
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.datafiles.validate import issue, length_stats
from llm_trainer.ml.tasks.generation.token_stats import TokenLengths, unavailable
from llm_trainer.ml.tasks.spec import Ingest

Role = Literal["system", "user", "assistant"]
MAX_EXAMPLES = 20
JSON_FORMATS = ("jsonl", "json")
ROLE_ALIASES = {
    "user": "user", "human": "user", "用户": "user", "question": "user",
    "assistant": "assistant", "gpt": "assistant", "bot": "assistant", "model": "assistant", "chatgpt": "assistant",
    "助手": "assistant", "answer": "assistant",
    "system": "system", "系统": "system",
}  # fmt: skip
PROMPT_NAMES = ("prompt", "instruction", "question", "query", "指令", "问题", "提问", "问")
INPUT_NAMES = ("input", "输入", "context", "上下文")
RESPONSE_NAMES = ("response", "output", "answer", "completion", "回答", "输出", "答案", "回复", "答")
SYSTEM_NAMES = ("system", "系统提示", "系统")


class Turn(BaseModel):
    role: Role
    content: str


class Conversation(BaseModel):
    """One training example: turns in order; the loss is on the assistant turns only."""

    messages: list[Turn]

    @property
    def prompt(self) -> str:
        return next((t.content for t in self.messages if t.role == "user"), "")

    @property
    def response(self) -> str:
        return next((t.content for t in reversed(self.messages) if t.role == "assistant"), "")

    @property
    def turns(self) -> int:
        """Assistant answers (what a user calls the rounds of a conversation)."""
        return sum(t.role == "assistant" for t in self.messages)

    @property
    def system(self) -> str | None:
        return next((t.content for t in self.messages if t.role == "system"), None)

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"role": t.role, "content": t.content} for t in self.messages]


def turns_label(turns: int) -> str:
    """The stored row's short label: how many rounds the conversation has."""
    return "1 turn" if turns == 1 else f"{turns} turns"


@dataclass
class ChatRecord:
    line: int  # 1-based line (JSONL, tables: data row) or record number (JSON array)
    messages: list[dict[str, str]] | None
    layout: str = ""
    split: str | None = None
    error: str | None = None  # why the record could not be read (malformed)


# --- readers ---------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _messages_of(obj: dict[str, Any]) -> tuple[str, list[dict[str, str]] | None, str | None]:
    """(layout, messages, error) of one JSON object in any of the JSON layouts."""
    raw = obj.get("messages", obj.get("conversations"))
    if isinstance(raw, list):
        messages = [{"role": "system", "content": _text(obj["system"])}] if obj.get("system") else []
        for item in raw:
            if not isinstance(item, dict):
                return "messages", None, "a message is not an object"
            raw_role = item.get("role", item.get("from"))
            role = ROLE_ALIASES.get(_text(raw_role).strip().lower())
            if role is None:
                return "messages", None, f"unknown role {raw_role!r} (use user/assistant/system)"
            messages.append({"role": role, "content": _text(item.get("content", item.get("value")))})
        return "messages", messages, None
    if "instruction" in obj or "output" in obj:
        messages = [{"role": "system", "content": _text(obj["system"])}] if obj.get("system") else []
        history = obj.get("history") or []
        if not isinstance(history, list) or not all(isinstance(h, list) and len(h) == 2 for h in history):
            return "alpaca", None, '"history" must be a list of [question, answer] pairs'
        for question, answer in history:
            messages += [{"role": "user", "content": _text(question)}, {"role": "assistant", "content": _text(answer)}]
        prompt = _text(obj.get("instruction")).strip()
        extra = _text(obj.get("input")).strip()
        prompt = f"{prompt}\n\n{extra}" if prompt and extra else prompt or extra
        messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": _text(obj.get("output"))}]
        return "alpaca", messages, None
    lowered = {str(k).lower(): v for k, v in obj.items()}
    prompt = next((lowered[n] for n in PROMPT_NAMES if n in lowered), None)
    response = next((lowered[n] for n in RESPONSE_NAMES if n in lowered), None)
    if prompt is not None or response is not None:
        return "prompt_response", [{"role": "user", "content": _text(prompt)},
                                   {"role": "assistant", "content": _text(response)}], None  # fmt: skip
    return "", None, 'no "messages", "instruction"+"output" or "prompt"+"response" fields'


def _json_records(table: Table) -> Iterator[ChatRecord]:
    for n, obj in numbered_objects(table):
        layout, messages, error = _messages_of(obj)
        split = obj.get("split") if isinstance(obj.get("split"), str) else None
        yield ChatRecord(n, messages, layout, normalize_split(split) if split else None, error)


def table_roles(cols: list[str], chosen: dict[str, str | None]) -> dict[str, str | None]:
    """Role -> column of a prompt/response table (prompt, optional input, response, optional system and split)."""
    prompt, _ = resolve_column(cols, chosen.get("text"), PROMPT_NAMES, role="prompt")
    response, _ = resolve_column(cols, chosen.get("label"), RESPONSE_NAMES, role="response", exclude=(prompt,))
    used = (prompt, response)
    extra, _ = resolve_column(cols, None, INPUT_NAMES, role="input", exclude=used, required=False)
    system, _ = resolve_column(cols, None, SYSTEM_NAMES, role="system", exclude=(*used, extra), required=False)
    split, _ = resolve_column(cols, None, SPLIT_NAMES, role="split", exclude=(*used, extra, system), required=False)
    return {"text": prompt, "input": extra, "label": response, "system": system, "split": split}


def _table_records(table: Any, roles: dict[str, str | None]) -> Iterator[ChatRecord]:
    index = {role: table.columns.index(c) for role, c in roles.items() if c}
    for n, cells in enumerate(table.rows(), start=1):

        def cell(role: str, cells: list[str] = cells) -> str:
            i = index.get(role)
            return cells[i] if i is not None and i < len(cells) else ""

        obj = {"instruction": cell("text"), "input": cell("input"), "output": cell("label"), "system": cell("system")}
        _, messages, error = _messages_of(obj)
        yield ChatRecord(n, messages, "prompt_response", normalize_split(cell("split")) or None, error)


def open_records(path: Path, filename: str, columns: dict[str, str | None]) -> tuple[Iterator[ChatRecord], dict]:
    """The file's conversations and what to report about the source (format, encoding, columns)."""
    table = open_table(path, filename)
    source: dict[str, Any] = {"format": table.format, "encoding": table.encoding, "delimiter": table.delimiter,
                              "size_bytes": path.stat().st_size}  # fmt: skip
    if table.format in JSON_FORMATS:
        source.update(columns=table.columns, text_column="messages", label_column=None, split_column=None,
                      guessed_columns={})  # fmt: skip
        return _json_records(table), source
    roles = table_roles(table.columns, columns)
    source.update(columns=table.columns, text_column=roles["text"], label_column=roles["label"],
                  split_column=roles["split"], generation_columns=roles, guessed_columns={})  # fmt: skip
    return _table_records(table, roles), source


# --- validation ------------------------------------------------------------------------------------------------


class GenerationValidator:
    """Cleans conversations (trailing user turns dropped, empty prompts/answers refused), drops exact duplicates,
    and summarises turns and prompt/response lengths."""

    def __init__(self, tokens: TokenLengths | None = None) -> None:
        self.tokens = tokens  # token lengths under the default model's tokenizer, when it is prepared
        self.rows_read = 0
        self.rows_kept = 0
        self.dropped = {"empty_text": 0, "empty_response": 0, "duplicate": 0, "malformed": 0, "no_answer": 0}
        self._malformed_rows: list[int] = []
        self._refused: list[dict[str, Any]] = []
        self._duplicate_lines: list[int] = []
        self._empty_response_lines: list[int] = []
        self._seen: set[bytes] = set()
        self._turns: Counter[int] = Counter()
        self._prompt_len = array("I")
        self._response_len = array("I")
        self._split_counts = dict.fromkeys(SPLITS, 0)
        self._has_split = False
        self.layouts: Counter[str] = Counter()
        self.with_system = 0
        self.trailing_user_dropped = 0
        self._sha = hashlib.sha256()

    def _refuse(self, record: ChatRecord, code: str, message: str) -> None:
        self.dropped[code] += 1
        if code == "malformed" and len(self._malformed_rows) < MAX_EXAMPLES:
            self._malformed_rows.append(self.rows_read - 1)
        if len(self._refused) < MAX_EXAMPLES:
            self._refused.append({"line": record.line, "code": code, "message": message})

    def add(self, record: ChatRecord) -> tuple | None:
        idx = self.rows_read
        self.rows_read += 1
        if record.error or record.messages is None:
            self._refuse(record, "malformed", f"line {record.line}: {record.error or 'unreadable'}")
            return None
        self.layouts[record.layout] += 1
        messages = [{"role": m["role"], "content": m["content"].strip()} for m in record.messages]
        while messages and messages[-1]["role"] != "assistant":
            messages.pop()
            self.trailing_user_dropped += 1
        conversation = Conversation.model_validate({"messages": messages})
        if not conversation.turns:
            self._refuse(record, "no_answer", f"line {record.line}: the conversation has no assistant answer")
            return None
        if any(not t.content for t in conversation.messages if t.role == "user") or not conversation.prompt:
            self._refuse(record, "empty_text", f"line {record.line}: a user turn (the prompt) is empty")
            return None
        if any(not t.content for t in conversation.messages if t.role == "assistant"):
            if len(self._empty_response_lines) < MAX_EXAMPLES:
                self._empty_response_lines.append(record.line)
            self._refuse(record, "empty_response", f"line {record.line}: an assistant answer is empty")
            return None
        annotation = json.dumps(conversation.as_dicts(), ensure_ascii=False)
        key = hashlib.blake2b(annotation.encode(), digest_size=8).digest()
        if key in self._seen:
            self.dropped["duplicate"] += 1
            if len(self._duplicate_lines) < MAX_EXAMPLES:
                self._duplicate_lines.append(record.line)
            return None
        self._seen.add(key)
        self.rows_kept += 1
        self._turns[conversation.turns] += 1
        self.with_system += conversation.system is not None
        for t in conversation.messages:
            if t.role != "system":
                (self._prompt_len if t.role == "user" else self._response_len).append(len(t.content))
        if record.split is not None:
            self._has_split = True
            self._split_counts[record.split] += 1
        self._sha.update(annotation.encode() + b"\n")
        if self.tokens is not None:
            self.tokens.add(conversation.as_dicts())
        return (idx, conversation.prompt, turns_label(conversation.turns), record.split, False, None, annotation)

    def label_counts(self) -> dict[str, int]:
        return {turns_label(k): v for k, v in sorted(self._turns.items())}

    @property
    def content_hash(self) -> str:
        return self._sha.hexdigest()

    @property
    def conflict_first_idxs(self) -> list[int]:
        return []  # one prompt may have several good answers: nothing conflicts

    def finish(self) -> dict[str, Any]:
        if self.rows_kept == 0:
            first = self._refused[0]["message"] if self._refused else "no conversation found"
            raise InvalidInput(
                f"No usable conversations: {self.rows_read} read (first problem: {first}). Generation data needs "
                'JSONL with "instruction"/"output" (Alpaca), "messages" with user/assistant roles, or a table with '
                "prompt,response (问题/回答, 指令/输入/输出) columns.",
                code="empty_dataset",
                details={"rows_read": self.rows_read, "dropped": dict(self.dropped), "refused": self._refused},
            )
        warnings = []
        if self.dropped["empty_response"]:
            warnings.append(issue(
                "empty_responses",
                f"{self.dropped['empty_response']} example(s) have an empty answer and were left out; fill in the "
                "answers to use them.",
                lines=self._empty_response_lines,
            ))  # fmt: skip
        if self.dropped["duplicate"]:
            warnings.append(issue(
                "duplicates",
                f"{self.dropped['duplicate']} example(s) repeat an earlier one exactly and were dropped.",
                lines=self._duplicate_lines,
            ))  # fmt: skip
        refused = self.dropped["malformed"] + self.dropped["no_answer"] + self.dropped["empty_text"]
        if refused:
            warnings.append(issue(
                "refused_examples",
                f"{refused} example(s) could not be used (unreadable, no answer or an empty prompt); see the list of "
                "refused lines and fix them in the file.",
                examples=self._refused,
            ))  # fmt: skip
        if self.rows_kept < 20:
            warnings.append(issue(
                "few_examples",
                f"Only {self.rows_kept} examples: a fine-tune learns the answer style from a few hundred; add more.",
            ))  # fmt: skip
        label_counts = self.label_counts()
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "trainable_rows": self.rows_kept,
            "dropped": {**self.dropped, "empty_label": self.dropped["empty_response"]},  # a table's label = response
            "malformed_rows": self._malformed_rows,
            "conflicts": {"texts": 0, "rows": 0, "examples": []},
            "labels_normalised": [],
            "label_counts": label_counts,
            "split_counts": {k: v for k, v in self._split_counts.items() if v} if self._has_split else {},
            "text_length": length_stats(self._prompt_len),
            "warnings": warnings,
            "generation": {
                "layout": self.layouts.most_common(1)[0][0] if self.layouts else "",
                "layouts": dict(self.layouts),
                "conversations": self.rows_kept,
                "turns": sum(k * v for k, v in self._turns.items()),
                "multi_turn": sum(v for k, v in self._turns.items() if k > 1),
                "turns_per_conversation": {str(k): v for k, v in sorted(self._turns.items())},
                "with_system_prompt": self.with_system,
                "prompt_length": length_stats(self._prompt_len),
                "response_length": length_stats(self._response_len),
                "token_lengths": self.tokens.finish() if self.tokens is not None else unavailable(),
                "empty_responses": self.dropped["empty_response"],
                "duplicates": self.dropped["duplicate"],
                "trailing_user_turns_dropped": self.trailing_user_dropped,
                "refused": self._refused,
            },
        }


def open_generation_file(path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
    records, source = open_records(path, filename, columns)
    return Ingest(
        records=records,
        validator=GenerationValidator(TokenLengths.default()),
        columns={
            "text": source.get("text_column") or "prompt",
            "label": source.get("label_column"),  # chat files keep the whole conversation in one column
            "split": source.get("split_column"),
        },  # fmt: skip
        source=source,
        file_format=source["format"],
        encoding=source.get("encoding") or "",
    )


def recognise_chat(sample: FileSample) -> list[str] | None:
    """[the conversation key] of chat records, or [prompt column, response column] (instruction/output...)."""
    for key in ("messages", "conversations"):
        if sample.objects and sum(isinstance(o.get(key), list) for o in sample.objects) * 2 >= len(sample.objects):
            return [key]
    prompt = sample.named(PROMPT_NAMES)
    response = sample.named(RESPONSE_NAMES, exclude=(prompt,)) if prompt else None
    return [prompt, response] if prompt and response else None
