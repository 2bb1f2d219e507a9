"""One chat template for training and serving: the model's own, else Gemma's turn format (`DEFAULT_CHAT_TEMPLATE`).

Training tokenises a conversation chunk by chunk at the template's turn boundaries (the prompt rendered with the
generation prompt, then the assistant turn up to its end-of-turn marker) so the labels cover exactly the assistant
tokens and their end marker, and the prompt tokens are the ones serving feeds the model (`prompt_ids`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llm_trainer.ml.base_models.embedded_gemma import GEMMA_CHAT_TEMPLATE

# A model without a chat template (a base model, a tiny test model) is trained and served with Gemma's turn format.
DEFAULT_CHAT_TEMPLATE = GEMMA_CHAT_TEMPLATE
IGNORE = -100  # label of tokens the loss skips (system, user and template tokens)
_PROBE = "LLMT-ANSWER-PROBE"

Messages = Sequence[dict[str, str]]


def ensure_chat_template(tokenizer: Any) -> str:
    """The tokenizer's template, set to the default when it has none (saved with the version, so serving agrees)."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    if tokenizer.pad_token_id is None:  # batches need padding; the pad positions are masked out
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer.chat_template


def render(tokenizer: Any, messages: Messages, generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt)


def _ids(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def turn_end(tokenizer: Any) -> str:
    """What the template writes after an answer (`<end_of_turn>\\n`, `<|im_end|>\\n`...): trained as part of it."""
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": _PROBE}]
    text = render(tokenizer, messages)
    return text[text.rfind(_PROBE) + len(_PROBE) :]


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Tokens that end an answer: the template's end-of-turn marker and the tokenizer's EOS."""
    ids = _ids(tokenizer, turn_end(tokenizer).strip())[:1]
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted(set(ids))


def prompt_ids(tokenizer: Any, messages: Messages) -> list[int]:
    """The tokens serving feeds the model: the conversation so far plus the template's generation prompt."""
    return _ids(tokenizer, render(tokenizer, messages, generation_prompt=True))


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    full_length: int  # tokens before truncation

    @property
    def trained_tokens(self) -> int:
        return sum(label != IGNORE for label in self.labels)


def encode(tokenizer: Any, messages: Messages, max_length: int, end: str | None = None) -> Encoded:
    """Token ids of the whole conversation with labels on the assistant turns only, cut to `max_length`."""
    end = turn_end(tokenizer) if end is None else end
    eos = "" if end.strip() or not tokenizer.eos_token else tokenizer.eos_token  # no marker: learn to stop on EOS
    full = render(tokenizer, messages)
    chunks: list[tuple[str, bool]] = []
    pos = 0
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = render(tokenizer, messages[:i], generation_prompt=True) if i else ""
        upto = render(tokenizer, messages[: i + 1])
        start, stop = len(prompt), len(upto)
        if not (full.startswith(prompt) and full.startswith(upto) and pos <= start < stop):
            # a template that rewrites earlier turns: find the answer text itself
            start = full.find(message["content"], pos)
            if start < 0:
                continue
            stop = start + len(message["content"])
            stop += len(end) if full.startswith(end, stop) else 0
        chunks += [(full[pos:start], False), (full[start:stop] + eos, True)]
        pos = stop
    chunks.append((full[pos:], False))
    input_ids: list[int] = []
    labels: list[int] = []
    for text, trained in chunks:
        ids = _ids(tokenizer, text)
        input_ids += ids
        labels += ids if trained else [IGNORE] * len(ids)
    return Encoded(input_ids[:max_length], labels[:max_length], len(input_ids))


def encode_many(tokenizer: Any, conversations: Sequence[Messages], max_length: int) -> list[Encoded]:
    end = turn_end(tokenizer)
    return [encode(tokenizer, c, max_length, end) for c in conversations]
