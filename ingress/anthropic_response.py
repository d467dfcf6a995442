"""Unified replies -> Anthropic's Messages API: the message object, its SSE events, its errors.

Streams follow Anthropic's event sequence: ``message_start``, then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta`` or ``input_json_delta``) /
``content_block_stop``, then ``message_delta`` (stop reason and usage) and ``message_stop``; an error
after the stream started is an ``error`` event. Input tokens are known only at the end of a
stream, so ``message_start`` reports 0 and ``message_delta`` carries the final input and output
token counts.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas.events import ChatResponse, ChunkEvent, ErrorInfo

__all__ = ["AnthropicStreamWriter", "anthropic_error_body", "message_body", "stop_reason"]

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def stop_reason(finish_reason: str) -> str:
    return _STOP_REASONS.get(finish_reason, "end_turn")


def anthropic_error_body(info: ErrorInfo) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(info.status, "api_error"), "message": info.message}}


def _usage(response: ChatResponse) -> dict[str, int]:
    usage = response.usage
    return {
        "input_tokens": usage.prompt_tokens - usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation_input_tokens": 0,
    }


def _tool_input(arguments: str) -> Any:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"value": value}


def message_body(message_id: str, model: str, response: ChatResponse) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if response.content:
        content.append({"type": "text", "text": response.content})
    for call in response.tool_calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call.arguments)})
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(response.finish_reason),
        "stop_sequence": None,
        "usage": _usage(response),
    }


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class AnthropicStreamWriter:
    """Turns chunk events and the final reply into Anthropic's SSE events, block by block."""

    def __init__(self, message_id: str, model: str) -> None:
        self._message_id = message_id
        self._model = model
        self._block = -1
        self._open: str | None = None  # "text", or the OpenAI tool index of the open tool_use block

    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _event("message_start", {"type": "message_start", "message": message}) + _event("ping", {"type": "ping"})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return _event("content_block_stop", {"type": "content_block_stop", "index": self._block})

    def _open_block(self, key: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self._block += 1
        self._open = key
        return out + _event(
            "content_block_start", {"type": "content_block_start", "index": self._block, "content_block": block}
        )

    def chunk(self, chunk: ChunkEvent) -> bytes:
        out = b""
        if chunk.content:
            if self._open != "text":
                out += self._open_block("text", {"type": "text", "text": ""})
            out += _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": self._block,
                    "delta": {"type": "text_delta", "text": chunk.content},
                },
            )
        for delta in orjson.loads(chunk.tool_calls_json) if chunk.tool_calls_json else []:
            key = f"tool{delta.get('index', 0)}"
            function = delta.get("function") or {}
            if self._open != key:
                out += self._open_block(
                    key,
                    {"type": "tool_use", "id": delta.get("id") or "", "name": function.get("name") or "", "input": {}},
                )
            if function.get("arguments"):
                out += _event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": self._block,
                        "delta": {"type": "input_json_delta", "partial_json": function["arguments"]},
                    },
                )
        return out

    def finish(self, response: ChatResponse, streamed: bool) -> bytes:
        out = b""
        if not streamed:  # the reply came whole (no chunk events): send it as blocks
            if response.content:
                out += self.chunk(ChunkEvent(request_id="", seq=0, deployment="", content=response.content))
            for i, call in enumerate(response.tool_calls):
                out += self.chunk(
                    ChunkEvent(
                        request_id="",
                        seq=0,
                        deployment="",
                        tool_calls_json=orjson.dumps(
                            [{"index": i, "id": call.id, "function": {"name": call.name, "arguments": call.arguments}}]
                        ).decode(),
                    )
                )
        out += self._close()
        out += _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(response.finish_reason), "stop_sequence": None},
                "usage": _usage(response),
            },
        )
        return out + _event("message_stop", {"type": "message_stop"})

    def error(self, info: ErrorInfo) -> bytes:
        return _event("error", anthropic_error_body(info))
