"""The generation TaskSpec: instruction / chat SFT of a causal LM (LoRA or full), served as a chat model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.tasks import TaskKind
from llm_trainer.datafiles.sample import FileSample
from llm_trainer.ml.base_models.kinds import generates_text
from llm_trainer.ml.base_models.sources import EMBEDDED_GEMMA_SOURCE, PRESETS
from llm_trainer.ml.tasks.classification.spec import check_validation_marks, invalid
from llm_trainer.ml.tasks.inputs import check_count
from llm_trainer.ml.tasks.spec import Ingest, ModelJob, TaskRow, TaskSpec, TrainedVersion
from llm_trainer.ml.training.data import VALIDATION_SPLIT_NAMES

PYTORCH = "pytorch"
BASE = "base"  # the base model without the adapter: the side-by-side comparison
ROLES = ("system", "user", "assistant")


def split_conversations(rows: Sequence[TaskRow], config: Any) -> Any:
    """Random hold-out of `validation_ratio` (at least one), or the rows' own split marks. Its own shuffle, not
    `hold_out`'s: a changed split would change what existing generation runs and their checks were trained on."""
    from llm_trainer.ml.tasks.generation.training import ChatSplit

    items = [(json.loads(r.annotation) if isinstance(r.annotation, str) else r.annotation, r.split) for r in rows]
    if config.validation_source == "dataset":
        train = [c for c, s in items if (s or "").lower() not in VALIDATION_SPLIT_NAMES]
        val = [c for c, s in items if (s or "").lower() in VALIDATION_SPLIT_NAMES]
    else:
        import random

        order = list(range(len(items)))
        random.Random(config.seed).shuffle(order)
        n_val = max(1, round(len(items) * config.validation_ratio))
        val = [items[i][0] for i in order[:n_val]]
        train = [items[i][0] for i in order[n_val:]]
    if not train or not val:
        raise ValueError("too few conversations for a training and a validation part; add examples")
    return ChatSplit(train, val, [])


def clean_messages(raw: Any, max_chars: int) -> tuple[list[dict[str, str]], bool]:
    """Validated chat messages (roles system/user/assistant, string content, last one from the user)."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput(
            'Send the conversation as "messages": [{"role": "user", "content": "..."}] (roles system, user, '
            "assistant; the last message from the user).",
            code="messages_expected",
        )
    messages, cut = [], False
    for i, m in enumerate(raw):
        role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
        content = m.get("content") if isinstance(m, dict) else getattr(m, "content", None)
        if isinstance(content, list):  # OpenAI content parts: the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        if role not in ROLES or not isinstance(content, str):
            raise InvalidInput(
                f"Message {i} needs a role (system, user or assistant) and a text content.",
                code="invalid_message",
                details={"index": i},
            )
        cut = cut or len(content) > max_chars
        messages.append({"role": role, "content": content[:max_chars]})
    if messages[-1]["role"] != "user" or not messages[-1]["content"].strip():
        raise InvalidInput(
            "The last message must be a non-empty user message: the model answers it.", code="invalid_message"
        )
    return messages, cut


class GenerationSpec(TaskSpec):
    kind = TaskKind.GENERATION
    column_roles = ("text", "label")  # prompt, response (tables); JSON layouts are detected per record
    primary_metric = "perplexity"
    primary_higher_is_better = False
    headline_metrics = ("perplexity", "loss", "rouge_l", "bleu_4")
    file_prediction = False  # answers are free text, one request each
    generates_text = True
    has_baseline = False  # the base model's own validation loss is the comparison
    default_base_model = EMBEDDED_GEMMA_SOURCE
    response_example = {
        "label": "",
        "score": 1.0,
        "probabilities": [],
        "text": "细胞理论认为所有生物都由细胞构成……",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 21, "completion_tokens": 48},
        "truncated": False,
    }

    # --- data -------------------------------------------------------------------------------------------------
    def recognise(self, sample: FileSample) -> list[str] | None:
        from llm_trainer.ml.tasks.generation.data import recognise_chat

        return recognise_chat(sample)

    def open_ingest(self, path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
        from llm_trainer.ml.tasks.generation.data import open_generation_file

        return open_generation_file(path, filename, columns)

    # --- training ---------------------------------------------------------------------------------------------
    def base_model_problem(self, source: str, architectures: list[str] | None) -> str | None:
        encoder = any(
            p.source == source and not p.generation and p.kind != "tfidf" for p in PRESETS
        )  # TF-IDF: no_baseline
        if not encoder and generates_text(architectures) is not False:
            return None
        chat_models = ", ".join(p.source for p in PRESETS if p.generation)
        return (
            f"{source} is an encoder: it reads text but does not write it, so it cannot learn to answer. Generation "
            f"needs a causal language model: {chat_models}, or a local folder of one."
        )

    # --- training ---------------------------------------------------------------------------------------------
    def check_trainable(self, label_counts: dict[str, int], validation_rows: int, config: Any) -> None:
        if sum(label_counts.values()) < 2:
            raise invalid(
                "dataset_id", "Generation training needs at least 2 conversations (one held out); add examples.",
                code="too_few_rows",
            )  # fmt: skip
        check_validation_marks(validation_rows, config, "conversations")

    def prepare(self, rows: Sequence[TaskRow], config: Any) -> Any:
        return split_conversations(rows, config)

    def train_baseline(self, data: Any, reporter: Any) -> TrainedVersion:
        raise InvalidInput(
            "Generation has no TF-IDF baseline: choose a causal language model as the base model (the base model's "
            "own validation loss is the comparison).",
            code="no_baseline",
        )

    def train_model(self, data: Any, job: ModelJob, reporter: Any) -> TrainedVersion:
        from llm_trainer.ml.tasks.generation.training import train_generation_version

        return train_generation_version(data, job, reporter)

    # --- serving ----------------------------------------------------------------------------------------------
    def variants(self, kind: str) -> tuple[str, ...]:
        return (PYTORCH, BASE)

    def load_predictor(self, version_dir: Path, kind: str, variant: str, warm_up: bool = True) -> Any:
        from llm_trainer.ml.tasks.generation.predictor import load_generator

        if variant not in self.variants(kind):
            raise FileNotFoundError(f"generation versions have no variant {variant}")
        generator = load_generator(version_dir, with_adapter=variant == PYTORCH)
        if warm_up:
            generator.warm_up()
        return generator

    def clean_inputs(self, fields: dict[str, Any], max_inputs: int, max_chars: int) -> tuple[list[Any], list[bool]]:
        from llm_trainer.ml.tasks.generation.predictor import ChatRequest

        if fields.get("messages") is not None:
            conversations = [fields["messages"]]
        elif fields.get("text") is not None or fields.get("texts") is not None:
            texts = [fields["text"]] if fields.get("text") is not None else list(fields["texts"])
            conversations = [[{"role": "user", "content": t}] for t in texts]
        else:
            raise InvalidInput(
                'This version answers prompts: send {"text": "..."} or {"messages": [{"role": "user", "content": '
                '"..."}]}.',
                code="messages_expected",
            )
        check_count(len(conversations), max_inputs, "texts")
        knobs = ("max_new_tokens", "temperature", "top_p", "seed")
        sampling = {k: fields[k] for k in knobs if fields.get(k) is not None}
        inputs, cut = [], []
        for raw in conversations:
            messages, was_cut = clean_messages(raw, max_chars)
            inputs.append(ChatRequest(messages, **sampling))
            cut.append(was_cut)
        return inputs, cut

    def to_public(self, answer: Any) -> dict[str, Any]:
        return {
            "label": "",
            "score": 1.0,
            "probabilities": [],
            "text": answer.text,
            "finish_reason": answer.finish_reason,
            "usage": {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens},
            "truncated": answer.truncated,
        }
