"""Serve a generation version: base model + LoRA adapter merged once at load, prompts rendered with the version's
chat template, answers generated with the KV cache, streamed piece by piece or returned whole."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_trainer.ml.inference.runtime import cpu_threads, on_torch_thread
from llm_trainer.ml.tasks.generation.chat import prompt_ids, stop_token_ids
from llm_trainer.ml.version_store import read_manifest

ADAPTER_CONFIG = "adapter_config.json"
log = logging.getLogger(__name__)


@dataclass
class ChatRequest:
    """One conversation to answer and how to sample the answer."""

    messages: list[dict[str, str]]
    max_new_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int | None = None


@dataclass
class ChatAnswer:
    text: str
    finish_reason: str  # "stop" (end-of-turn token) | "length" (max_new_tokens reached)
    prompt_tokens: int
    completion_tokens: int
    seconds: float = 0.0
    first_token_ms: float | None = None
    truncated: bool = False  # the prompt was cut from the left to fit the context
    label: str = ""  # the shared answer shape of the other tasks (generation has no label)
    score: float = 1.0
    probabilities: list = field(default_factory=list)


class _PieceStreamer:
    """A transformers streamer that turns generated ids into text pieces on a queue (whole characters only).

    Incremental: each token decodes only the text since the last emitted piece plus the piece before it (the
    look-back keeps word-boundary spaces and multi-byte characters split across tokens right), so a long answer
    costs linear, not quadratic, decoding time."""

    def __init__(self, tokenizer: Any, stop_ids: list[int]) -> None:
        self.tokenizer, self.stop_ids = tokenizer, set(stop_ids)
        self.pieces: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.ids: list[int] = []
        self._text_ids: list[int] = []  # generated ids without stop tokens: what the answer text is made of
        self._prefix = 0  # start of the look-back window in _text_ids
        self._read = 0  # end of what has been sent
        self._prompt_seen = False
        self.first_token_at: float | None = None

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # the first call carries the prompt
            self._prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        new = [int(i) for i in value.reshape(-1).tolist()]
        self.ids += new
        self._text_ids += [i for i in new if i not in self.stop_ids]
        before = self._decode(self._text_ids[self._prefix : self._read])
        text = self._decode(self._text_ids[self._prefix :])
        if len(text) > len(before) and not text.endswith("\ufffd"):  # else half a character: wait for the rest
            self.pieces.put(text[len(before) :])
            self._prefix, self._read = self._read, len(self._text_ids)

    def end(self) -> None:
        self.pieces.put(None)


SAMPLE_TOP_K = 64  # sampling keeps the 64 likeliest tokens before top-p (Gemma's own setting): no 262k-wide sort


class ChatGenerator:
    """`predict([ChatRequest]) -> [ChatAnswer]` and `stream(ChatRequest)` (text pieces, then `last_answer`).

    `serving=True`: each forward pass runs on the process's one torch thread (runtime.on_torch_thread) with every
    core, so concurrent streams take turns token by token instead of each thread's OpenMP pool fighting for the
    cores; the request thread itself does the sampling single-threaded."""

    def __init__(self, tokenizer: Any, model: Any, context_length: int, serving: bool = False) -> None:
        self.tokenizer, self.model, self.context_length = tokenizer, model.eval(), context_length
        self.stop_ids = stop_token_ids(tokenizer)
        self.serving = serving
        self.decode_threads = 1  # OpenMP threads for forward passes over few tokens; `calibrate` picks it
        if serving:
            _forward_on_torch_thread(model, self)

    def _prompt(self, request: ChatRequest) -> tuple[Any, bool, int]:
        """The prompt ids (cut from the left only when the conversation itself is too long), whether they were cut,
        and the answer's token budget: a max_new_tokens larger than the context leaves shrinks to fit, instead of
        cutting a short prompt (the prompt may use at least half of the context)."""
        import torch

        ids = prompt_ids(self.tokenizer, request.messages)
        room = max(self.context_length // 2, self.context_length - request.max_new_tokens, 8)
        cut = len(ids) > room
        ids = ids[-room:]
        return torch.tensor([ids]), cut, max(1, min(request.max_new_tokens, self.context_length - len(ids)))

    def _kwargs(
        self, request: ChatRequest, ids: Any, max_new: int, streamer: Any, cancel: threading.Event | None
    ) -> dict:
        from transformers import StoppingCriteria, StoppingCriteriaList

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):  # noqa: ANN001, ANN204 - transformers' signature
                import torch

                return torch.full((input_ids.shape[0],), bool(cancel and cancel.is_set()), dtype=torch.bool)

        sample = request.temperature > 0
        return {
            "input_ids": ids,
            "attention_mask": ids.new_ones(ids.shape),
            "max_new_tokens": max_new,
            "do_sample": sample,
            "temperature": request.temperature if sample else None,
            "top_p": request.top_p if sample else None,
            "top_k": SAMPLE_TOP_K if sample else None,
            "eos_token_id": self.stop_ids,
            "pad_token_id": self.tokenizer.pad_token_id,
            "use_cache": True,
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([Cancelled()]),
        }

    def _generate(self, request: ChatRequest, streamer: _PieceStreamer, cancel: threading.Event | None) -> ChatAnswer:
        import torch

        ids, cut, max_new = self._prompt(request)
        started = time.perf_counter()
        threads = torch.get_num_threads()
        if self.serving:  # the forward passes run on the torch thread; sampling here needs no OpenMP pool
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                if request.seed is not None:
                    torch.manual_seed(request.seed)
                self.model.generate(**self._kwargs(request, ids, max_new, streamer, cancel))
        finally:
            torch.set_num_threads(threads)
        new = streamer.ids
        stopped = bool(new) and new[-1] in self.stop_ids
        text = streamer._decode(streamer._text_ids)
        first = None if streamer.first_token_at is None else (streamer.first_token_at - started) * 1000
        return ChatAnswer(
            text=text, finish_reason="stop" if stopped else "length", prompt_tokens=int(ids.shape[1]),
            completion_tokens=len(new), seconds=time.perf_counter() - started, first_token_ms=first, truncated=cut,
        )  # fmt: skip

    def predict(self, requests: list[ChatRequest]) -> list[ChatAnswer]:
        return [self._generate(r, _PieceStreamer(self.tokenizer, self.stop_ids), None) for r in requests]

    def greedy_texts(self, requests: list[ChatRequest], batch_size: int = 16) -> list[str]:
        """Greedy answers to many prompts, `batch_size` left-padded prompts per generate call: evaluation answers
        come in batches, since one decoding step of a batch costs a CPU about what one prompt's step does."""
        import torch

        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]
        texts: list[str] = []
        for start in range(0, len(requests), batch_size):
            prompts = [self._prompt(r) for r in requests[start : start + batch_size]]
            width = max(ids.shape[1] for ids, _, _ in prompts)
            batch = torch.full((len(prompts), width), pad, dtype=torch.long)
            mask = torch.zeros((len(prompts), width), dtype=torch.long)
            for i, (ids, _, _) in enumerate(prompts):
                batch[i, width - ids.shape[1] :], mask[i, width - ids.shape[1] :] = ids[0], 1
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=batch, attention_mask=mask, max_new_tokens=min(m for _, _, m in prompts),
                    do_sample=False, temperature=None, top_p=None, top_k=None, eos_token_id=self.stop_ids,
                    pad_token_id=pad, use_cache=True,
                )  # fmt: skip
            for row in out[:, width:].tolist():
                end = next((i for i, t in enumerate(row) if t in self.stop_ids), len(row))
                texts.append(self.tokenizer.decode(row[:end], skip_special_tokens=True))
        return texts

    def stream(self, request: ChatRequest) -> ChatStream:
        return ChatStream(self, request)

    def warm_up(self) -> None:
        self.predict([ChatRequest([{"role": "user", "content": "你好"}], max_new_tokens=2, temperature=0)])
        if self.serving:
            self.calibrate()

    def calibrate(self, tokens: int = 12) -> None:
        """Time a short greedy answer with decode steps on one thread and on every core, and keep the faster: a
        step is memory-bound, and whether a second thread adds bandwidth or only synchronisation depends on the
        CPU and on what else runs (about a second, once per load)."""
        request = ChatRequest([{"role": "user", "content": "你好"}], max_new_tokens=tokens, temperature=0)
        timings: dict[int, float] = {}
        for threads in dict.fromkeys((1, cpu_threads())):
            self.decode_threads = threads
            started = time.perf_counter()
            answer = self.predict([request])[0]
            timings[threads] = (time.perf_counter() - started) / max(1, answer.completion_tokens)
        self.decode_threads = min(timings, key=timings.__getitem__)
        log.info("decode steps on %d thread(s): %s", self.decode_threads,
                 ", ".join(f"{t} thread(s) {s * 1000:.1f} ms/token" for t, s in timings.items()))  # fmt: skip


SMALL_PASS_TOKENS = 64  # forward passes over fewer tokens (decode steps, short prompts) use `decode_threads`


def _forward_on_torch_thread(model: Any, generator: ChatGenerator) -> None:
    """Route the model's forward passes (generate's per-token calls) through the torch thread. A decode step is a
    matrix-vector product bound by memory: it runs on the generator's calibrated `decode_threads`; long prompts use
    every core."""
    import torch

    forward = model.forward

    def run(args: tuple, kwargs: dict) -> Any:
        ids = kwargs.get("input_ids")
        threads = torch.get_num_threads()
        small = ids is not None and ids.numel() < SMALL_PASS_TOKENS and generator.decode_threads != threads
        if small:
            torch.set_num_threads(generator.decode_threads)
        try:
            with torch.inference_mode():  # grad mode is per thread: generate's own no_grad does not reach here
                return forward(*args, **kwargs)
        finally:
            if small:
                torch.set_num_threads(threads)

    def on_torch(*args: Any, **kwargs: Any) -> Any:
        return on_torch_thread(run, args, kwargs)

    model.forward = on_torch


class ChatStream:
    """Iterate for text pieces; `answer` holds the finished answer (usage, finish reason) once iteration ends.
    Closing the iterator early (client gone) stops generation at the next token."""

    def __init__(self, generator: ChatGenerator, request: ChatRequest) -> None:
        self._generator, self._request = generator, request
        self._streamer = _PieceStreamer(generator.tokenizer, generator.stop_ids)
        self._cancel = threading.Event()
        self.answer: ChatAnswer | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.answer = self._generator._generate(self._request, self._streamer, self._cancel)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consuming thread
            self.error = exc
            self._streamer.end()

    def __iter__(self) -> Iterator[str]:
        thread = threading.Thread(target=self._run, daemon=True, name="chat-stream")
        thread.start()
        try:
            while (piece := self._streamer.pieces.get()) is not None:
                yield piece
        finally:
            self._cancel.set()
            thread.join()
        if self.error is not None:
            raise self.error


def base_folder(version_dir: Path, meta: dict[str, Any]) -> Path:
    """The base model an adapter was trained on: its recorded folder, else its source resolved again."""
    recorded = Path((meta.get("generation") or {}).get("base_folder") or "")
    if recorded.is_dir():
        return recorded
    from llm_trainer.core.config import get_settings
    from llm_trainer.ml.modeling import resolve_source_folder

    return resolve_source_folder(meta["base_model"], get_settings().cache_dir)


def serving_dtype(saved: Any) -> Any:
    """bf16 weights stay bf16 where the CPU computes in bf16 (AVX512-BF16 / AMX: half the memory read per token),
    else they are served in fp32 (bf16 emulated on older CPUs is slower than fp32). fp32 weights stay fp32."""
    import torch

    from llm_trainer.ml.training.trainer import cpu_supports_bf16

    return torch.float32 if saved == torch.bfloat16 and not cpu_supports_bf16() else saved


def load_generator(version_dir: Path, with_adapter: bool = True) -> ChatGenerator:
    """The version's model ready to answer (LoRA merged into the base weights: no adapter cost per token).
    Loading runs parallel tensor copies: on the torch thread, like every forward pass later."""
    return on_torch_thread(_load_generator_here, version_dir, with_adapter)


def load_causal_for_serving(folder: Path) -> Any:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    return model.to(serving_dtype(model.dtype))


def _load_generator_here(version_dir: Path, with_adapter: bool) -> ChatGenerator:
    from transformers import AutoTokenizer

    from llm_trainer.ml.training.data import model_length_limit

    meta = read_manifest(version_dir)
    tokenizer = AutoTokenizer.from_pretrained(version_dir)
    if not with_adapter:  # the base model, for LoRA and full fine-tunes alike
        model = load_causal_for_serving(base_folder(version_dir, meta))
    elif (version_dir / ADAPTER_CONFIG).is_file():
        from peft import PeftModel

        base = load_causal_for_serving(base_folder(version_dir, meta))
        model = PeftModel.from_pretrained(base, version_dir).merge_and_unload()
    else:
        model = load_causal_for_serving(version_dir)
    return ChatGenerator(tokenizer, model, model_length_limit(tokenizer, model.config), serving=True)
