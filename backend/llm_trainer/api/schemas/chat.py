"""Shapes of the OpenAI-compatible chat API (`/v1/chat/completions`, `/v1/models`) and of `/api/generate`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool fields... are accepted and ignored

    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[dict[str, Any]] = Field(description="Text, or OpenAI content parts (the text parts are used).")

    def as_turn(self) -> dict[str, Any]:
        return {"role": "system" if self.role == "developer" else self.role, "content": self.content}


class Sampling(BaseModel):
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy; default 0.7.")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling mass; default 0.9.")
    seed: int | None = Field(None, description="Fixes the sampling draw for a reproducible answer.")


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(Sampling):
    """The OpenAI request body; fields this server does not use (tools, logprobs, n > 1) are refused or ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="A generation version's id ('3') or name, as listed by GET /v1/models.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, description="Longest answer in tokens (default 256).")
    max_completion_tokens: int | None = Field(None, ge=1, description="Same as max_tokens (newer clients).")
    n: int = Field(1, ge=1, le=1, description="Only one answer per request.")

    def fields(self) -> dict[str, Any]:
        return {
            "messages": [m.as_turn() for m in self.messages],
            "max_new_tokens": self.max_completion_tokens or self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
        }


class GenerateRequest(Sampling):
    """The product's own generation call: a prompt or a conversation, one version, optionally streamed (SSE)."""

    prompt: str | None = Field(
        None, description="One user message (or send messages).", examples=["你好，介绍一下你自己"]
    )
    messages: list[ChatMessage] | None = Field(None, description="The conversation so far, the last from the user.")
    system: str | None = Field(None, description="A system prompt put before the conversation.")
    model_id: int | None = Field(None, description="Generation version id; default: the newest generation version.")
    variant: Literal["pytorch", "base"] | None = Field(
        None, description="pytorch: the fine-tuned model; base: its base model without the adapter (comparison)."
    )
    max_new_tokens: int | None = Field(None, ge=1, description="Longest answer in tokens (default 256).")
    stream: bool = Field(False, description="Send the answer as Server-Sent Events: delta pieces, then a done event.")

    def fields(self) -> dict[str, Any]:
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system}] if self.system else []
        if self.messages is not None:
            messages += [m.as_turn() for m in self.messages]
        elif self.prompt is not None:
            messages.append({"role": "user", "content": self.prompt})
        return {
            "messages": messages,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
        }


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class GenerateResponse(BaseModel):
    model_id: int
    model_name: str
    variant: str
    text: str
    finish_reason: str = Field(description="stop: the model ended its turn; length: max_new_tokens was reached.")
    usage: Usage
    truncated: bool = Field(description="The conversation was cut from the start to fit the model's context.")
    latency_ms: float
    first_token_ms: float | None = None
    tokens_per_s: float | None = None
    load_ms: float | None = Field(None, description="Set when this request waited for the model to load.")
