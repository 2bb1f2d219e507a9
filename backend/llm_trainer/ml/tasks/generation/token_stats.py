"""Token lengths of an SFT file under the default generation model's tokenizer (the embedded Gemma 3 270M, once it
is prepared), and the share of conversations that training's automatic max length would cut.

Read with the `tokenizers` library alone (no transformers/torch in the upload path). A conversation's length counts
its turns in Gemma's turn format (`<bos>`, then `<start_of_turn>role\\n ... <end_of_turn>\\n` per turn, a system
prompt folded into the first user turn); a token may merge across a turn boundary, so it is exact to a token or two.
When the model is not prepared, the report says so and the character lengths stand alone.
"""

from __future__ import annotations

from array import array
from functools import lru_cache
from pathlib import Path
from typing import Any

from llm_trainer.datafiles.validate import length_stats
from llm_trainer.ml.tasks.generation.training import DEFAULT_MAX_TOKENS
from llm_trainer.ml.training.data import choose_max_length, truncation_share

BATCH = 512
TOKENIZER_NAME = "Gemma 3 270M"


@lru_cache(maxsize=2)
def _load(path: str, mtime: float) -> Any:  # noqa: ARG001 - the mtime keys the cache: a re-prepared model reloads
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def default_tokenizer_file() -> Path | None:
    """The embedded Gemma's tokenizer.json when the model is prepared in this server's cache dir."""
    from llm_trainer.core.config import get_settings
    from llm_trainer.ml.base_models.embedded_gemma import gemma_dir, is_ready

    cache_dir = get_settings().cache_dir
    return gemma_dir(cache_dir) / "tokenizer.json" if is_ready(cache_dir) else None


class TokenLengths:
    """Collects conversations, tokenises them in batches, and summarises prompt / response / conversation lengths."""

    def __init__(self, tokenizer: Any, name: str) -> None:
        self.tokenizer, self.name = tokenizer, name
        count = lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)  # noqa: E731
        self._turn = {role: count(f"<start_of_turn>{role}\n<end_of_turn>\n") for role in ("user", "model")}
        self._pending: list[list[dict[str, str]]] = []
        self.prompt, self.response, self.conversation = array("I"), array("I"), array("I")

    @classmethod
    def default(cls) -> TokenLengths | None:
        path = default_tokenizer_file()
        if path is None or not path.is_file():
            return None
        return cls(_load(str(path), path.stat().st_mtime), TOKENIZER_NAME)

    def add(self, messages: list[dict[str, str]]) -> None:
        self._pending.append(messages)
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        texts = [m["content"] for conv in self._pending for m in conv]
        lengths = iter(len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False))
        for conv in self._pending:
            total, system = 1, 0  # <bos>
            for m in conv:
                n = next(lengths)
                if m["role"] == "system":
                    system = n + 1  # "\n\n" joins it to the first user turn
                    continue
                if m["role"] == "user":
                    self.prompt.append(n + system)
                    n, system = n + system, 0
                    total += n + self._turn["user"]
                else:
                    self.response.append(n)
                    total += n + self._turn["model"]
            self.conversation.append(total)
        self._pending = []

    def finish(self) -> dict[str, Any]:
        self._flush()
        lengths = list(self.conversation)
        max_length = choose_max_length(lengths, DEFAULT_MAX_TOKENS, None)
        return {
            "available": True,
            "tokenizer": self.name,
            "prompt": length_stats(self.prompt),
            "response": length_stats(self.response),
            "conversation": length_stats(self.conversation),
            "max_length": max_length,  # what training's automatic max length would pick for the whole file
            "truncated_share": round(truncation_share(lengths, max_length), 4),
            "truncated": sum(n > max_length for n in lengths),
            "cap": DEFAULT_MAX_TOKENS,
        }


def unavailable() -> dict[str, Any]:
    return {
        "available": False,
        "tokenizer": TOKENIZER_NAME,
        "reason": "The default model (embedded Gemma 3 270M) is not prepared yet, so lengths are in characters only. "
        "Token lengths appear for files uploaded after it is prepared (Base models page, or the first training).",
    }
