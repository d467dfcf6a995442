"""OpenAI chat-completions payloads: completion object, stream chunks, errors.

Shapes follow OpenAI's API reference for the ``chat.completion`` object, the
``chat.completion.chunk`` object (``stream_options.include_usage`` adds
``"usage": null`` to every chunk and a final chunk with ``"choices": []`` and
the usage), ``delta.tool_calls`` and the ``{"error": {...}}`` object.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from simulator.replies import Reply, ToolCall, split_even, split_text

SYSTEM_FINGERPRINT = "fp_turnout_sim"
DONE_EVENT = b"data: [DONE]\n\n"
ARGUMENT_PIECES = 3


@dataclass(frozen=True, slots=True)
class ErrorKind:
    type: str
    code: str | None
    message: str


_ERROR_KINDS: Mapping[int, ErrorKind] = MappingProxyType(
    {
        400: ErrorKind("invalid_request_error", None, "Simulated bad request."),
        401: ErrorKind("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
        403: ErrorKind("permission_error", None, "You are not allowed to use this model."),
        404: ErrorKind(
            "invalid_request_error",
            "model_not_found",
            "The model `{model}` does not exist or you do not have access to it.",
        ),
        429: ErrorKind(
            "rate_limit_error",
            "rate_limit_exceeded",
            "Rate limit reached for {model} on requests per min (RPM). Please try again later.",
        ),
        500: ErrorKind(
            "server_error",
            None,
            "The server had an error while processing your request. Sorry about that!",
        ),
        503: ErrorKind(
            "server_error",
            "server_is_overloaded",
            "The server is overloaded or not ready yet.",
        ),
    }
)


def error_kind(status: int) -> ErrorKind:
    """OpenAI's error type/code/message for an HTTP status (4xx/5xx fallbacks)."""
    kind = _ERROR_KINDS.get(status)
    if kind is not None:
        return kind
    if status >= 500:
        return ErrorKind("server_error", None, f"Simulated upstream error {status}.")
    return ErrorKind("invalid_request_error", None, f"Simulated client error {status}.")


def error_body(
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def injected_error_body(status: int, model: str) -> dict[str, Any]:
    kind = error_kind(status)
    message = f"{kind.message.format(model=model)} (simulated {status})"
    return error_body(message, kind.type, None, kind.code)


def usage_dict(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def tool_call_dict(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def completion_dict(reply: Reply, completion_id: str, created: int, model: str) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.content,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_call is not None:
        message["tool_calls"] = [tool_call_dict(reply.tool_call)]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": usage_dict(reply),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


@dataclass(frozen=True, slots=True)
class ChunkMaker:
    """Builds ``chat.completion.chunk`` events sharing one id, created and model."""

    completion_id: str
    created: int
    model: str
    include_usage: bool

    def chunk(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
    ) -> dict[str, Any]:
        choice = {
            "index": 0,
            "delta": delta,
            "logprobs": None,
            "finish_reason": finish_reason,
        }
        return self._envelope([choice], None)

    def usage_chunk(self, reply: Reply) -> dict[str, Any]:
        return self._envelope([], usage_dict(reply))

    def _envelope(self, choices: list[Any], usage: dict[str, Any] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        }
        if self.include_usage:
            payload["usage"] = usage
        return payload


def _tool_call_deltas(call: ToolCall) -> list[dict[str, Any]]:
    head = {
        "index": 0,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    }
    pieces = split_even(call.arguments, max(ARGUMENT_PIECES, math.ceil(len(call.arguments) / 32)))
    rest = [{"index": 0, "function": {"arguments": piece}} for piece in pieces]
    return [{"tool_calls": [delta]} for delta in [head, *rest]]


def stream_chunks(reply: Reply, maker: ChunkMaker, words_per_chunk: int) -> list[dict[str, Any]]:
    """The chunk objects of a streamed reply, in order (without ``[DONE]``)."""
    if reply.tool_call is not None:
        first: dict[str, Any] = {"role": "assistant", "content": None}
        deltas = _tool_call_deltas(reply.tool_call)
    else:
        first = {"role": "assistant", "content": ""}
        pieces = split_text(reply.content or "", words_per_chunk)
        deltas = [{"content": piece} for piece in pieces]
    chunks = [maker.chunk(first)]
    chunks.extend(maker.chunk(delta) for delta in deltas)
    chunks.append(maker.chunk({}, reply.finish_reason))
    if maker.include_usage:
        chunks.append(maker.usage_chunk(reply))
    return chunks


def stream_events(reply: Reply, maker: ChunkMaker, words_per_chunk: int) -> list[bytes]:
    """SSE ``data:`` events of a streamed reply, ending with ``data: [DONE]``."""
    events = [sse_event(chunk) for chunk in stream_chunks(reply, maker, words_per_chunk)]
    events.append(DONE_EVENT)
    return events
