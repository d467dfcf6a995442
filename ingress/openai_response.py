"""Replies and chunk events -> OpenAI's ``chat.completion`` and ``chat.completion.chunk`` JSON."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.events import ChatResponse, ChunkEvent, Usage

__all__ = ["SSE_DONE", "chunk_body", "chunk_delta", "completion_body", "sse", "usage_body"]

SSE_DONE = b"data: [DONE]\n\n"


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def completion_body(completion_id: str, model: str, created: int, response: ChatResponse) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": response.content, "refusal": None}
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls
        ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": response.finish_reason, "logprobs": None}],
        "usage": usage_body(response.usage),
    }


def chunk_body(
    completion_id: str,
    model: str,
    created: int,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    include_usage: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    if include_usage:
        body["usage"] = None
    return body


def chunk_delta(chunk: ChunkEvent) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if chunk.content:
        delta["content"] = chunk.content
    if chunk.tool_calls_json:
        delta["tool_calls"] = orjson.loads(chunk.tool_calls_json)
    return delta


def sse(body: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(body) + b"\n\n"
