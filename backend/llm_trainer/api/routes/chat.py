"""OpenAI-compatible chat (`POST /v1/chat/completions`, `GET /v1/models`) and the product's `POST /api/generate`.

Streams are Server-Sent Events in OpenAI's chunk format (`data: {...}` lines, then `data: [DONE]`), so the official
`openai` client and other OpenAI-compatible tools work unchanged against `<server>/v1`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from llm_trainer.api.schemas.chat import ChatCompletionRequest, GenerateRequest, GenerateResponse
from llm_trainer.api.serving_dep import ServingDep
from llm_trainer.api.streaming import sse_response
from llm_trainer.services import generation

router = APIRouter(tags=["chat"])


def _sse(payload: Any) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)}\n\n"


def _usage(answer: Any) -> dict[str, int]:
    return {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens}  # fmt: skip


@router.get("/v1/models", summary="Generation versions, OpenAI style (id = version id)")
def list_models(serving: ServingDep) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": str(v.id),
                "object": "model",
                "created": int(v.created_at.timestamp()),
                "owned_by": "llm-trainer",
                "name": v.name,
                "base_model": v.base_model,
                "status": v.status,
            }  # fmt: skip
            for v in generation.chat_versions(serving)
        ],
    }


@router.post("/v1/chat/completions", summary="Answer a conversation (OpenAI-compatible, stream or not)")
async def chat_completions(body: ChatCompletionRequest, serving: ServingDep) -> Any:
    call = await run_in_threadpool(generation.prepare, serving, body.model, body.fields())
    completion_id, created, name = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), str(call.version.id)
    if not body.stream:
        answer = await run_in_threadpool(generation.complete, call)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": answer.finish_reason,
                }
            ],  # fmt: skip
            "usage": _usage(answer),
        }
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def events() -> Iterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            return _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": name,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})  # fmt: skip

        yield chunk({"role": "assistant", "content": ""})
        pieces = generation.stream(call)
        for piece in pieces:
            yield chunk({"content": piece})
        yield chunk({}, pieces.answer.finish_reason)
        if include_usage:
            yield _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": name,
                        "choices": [], "usage": _usage(pieces.answer)})  # fmt: skip
        yield _sse("[DONE]")

    return sse_response(events())


@router.post(
    "/api/generate",
    response_model=GenerateResponse,
    summary="Answer a prompt or conversation with a generation version (JSON, or SSE when stream=true)",
)
async def generate(body: GenerateRequest, serving: ServingDep) -> Any:
    call = await run_in_threadpool(generation.prepare, serving, body.model_id, body.fields(), body.variant)
    variant = body.variant or "pytorch"

    def public(answer: Any) -> dict[str, Any]:
        seconds = answer.seconds or 0.0
        return GenerateResponse(
            model_id=call.version.id, model_name=call.version.name, variant=variant, text=answer.text,
            finish_reason=answer.finish_reason, usage=_usage(answer), truncated=answer.truncated,
            latency_ms=round((time.perf_counter() - call.started) * 1000, 1),
            first_token_ms=None if answer.first_token_ms is None else round(answer.first_token_ms, 1),
            tokens_per_s=round(answer.completion_tokens / seconds, 2) if seconds else None, load_ms=call.load_ms,
        ).model_dump()  # fmt: skip

    if not body.stream:
        return public(await run_in_threadpool(generation.complete, call))

    def events() -> Iterator[str]:
        pieces = generation.stream(call)
        for piece in pieces:
            yield _sse({"delta": piece})
        yield _sse({"done": True, **public(pieces.answer)})

    return sse_response(events())
