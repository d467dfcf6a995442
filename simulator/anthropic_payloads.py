"""Anthropic Messages payloads: the Message object, its SSE events, its error bodies.

Shapes follow Anthropic's Messages API reference and its "Streaming messages" and "Claude API
errors" pages: a Message has ``id`` (``msg_...``), ``type: "message"``, ``role``, ``model``,
``content`` blocks (``text``; ``tool_use`` with ``id`` ``toolu_...``, ``name``, ``input``),
``stop_reason``, ``stop_sequence`` and ``usage``. A stream is ``message_start``, a ``ping``,
per block ``content_block_start`` / ``content_block_delta`` (``text_delta`` or
``input_json_delta``) / ``content_block_stop``, then ``message_delta`` (stop reason; cumulative
``output_tokens``) and ``message_stop``; every event has an SSE ``event:`` name equal to its
data's ``type``. Errors are ``{"type": "error", "error": {"type", "message"}, "request_id"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from simulator.replies import Reply, split_even, split_text

__all__ = [
    "ErrorKind",
    "MessageIds",
    "error_body",
    "error_kind",
    "message_dict",
    "sse_event",
    "stop_reason",
    "stream_events",
    "tool_input",
]

ARGUMENT_PIECES = 3


@dataclass(frozen=True, slots=True)
class ErrorKind:
    status: int
    type: str
    message: str


_ERROR_KINDS: Mapping[int, ErrorKind] = MappingProxyType(
    {
        400: ErrorKind(400, "invalid_request_error", "Simulated bad request."),
        401: ErrorKind(401, "authentication_error", "invalid x-api-key"),
        402: ErrorKind(402, "billing_error", "Your credit balance is too low to access the Anthropic API."),
        403: ErrorKind(403, "permission_error", "Your API key does not have permission to use the specified resource."),
        404: ErrorKind(404, "not_found_error", "model: {model}"),
        413: ErrorKind(413, "request_too_large", "Request exceeds the maximum allowed number of bytes."),
        429: ErrorKind(
            429, "rate_limit_error", "This request would exceed your account's rate limit. Please try again later."
        ),
        500: ErrorKind(500, "api_error", "Internal server error"),
        504: ErrorKind(504, "timeout_error", "Request timed out"),
        529: ErrorKind(529, "overloaded_error", "Overloaded"),
    }
)


def error_kind(status: int) -> ErrorKind:
    """Anthropic's status, error type and message for an injected status.

    503 has no place in Anthropic's table: its "service is overloaded" answer is 529
    ``overloaded_error``, which is what the generic overload knob gets here.
    """
    if status == 503:
        status = 529
    kind = _ERROR_KINDS.get(status)
    if kind is not None:
        return kind
    if status >= 500:
        return ErrorKind(status, "api_error", f"Simulated upstream error {status}.")
    return ErrorKind(status, "invalid_request_error", f"Simulated client error {status}.")


def error_body(type_: str, message: str, request_id: str | None) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": request_id}


_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def stop_reason(reply: Reply, stop_sequence: str | None) -> str:
    return "stop_sequence" if stop_sequence is not None else _STOP_REASONS[reply.finish_reason]


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's arguments (a JSON string) as a tool_use ``input`` object."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


@dataclass(frozen=True, slots=True)
class MessageIds:
    message_id: str
    tool_use_id: str


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": reply.prompt_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _blocks(reply: Reply, ids: MessageIds) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.content:
        blocks.append({"type": "text", "text": reply.content})
    if reply.tool_call is not None:
        call = reply.tool_call
        blocks.append(
            {"type": "tool_use", "id": ids.tool_use_id, "name": call.name, "input": tool_input(call.arguments)}
        )
    return blocks


def message_dict(reply: Reply, ids: MessageIds, model: str, stop_sequence: str | None) -> dict[str, Any]:
    """A non-streamed Message."""
    return {
        "id": ids.message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _blocks(reply, ids),
        "stop_reason": stop_reason(reply, stop_sequence),
        "stop_sequence": stop_sequence,
        "usage": _usage(reply, reply.completion_tokens),
    }


def sse_event(data: dict[str, Any]) -> bytes:
    """One SSE event: the ``event:`` name is the data's ``type``."""
    return b"event: " + str(data["type"]).encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _block_events(index: int, block: dict[str, Any], deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = {**block, "text": ""} if block["type"] == "text" else {**block, "input": {}}
    return [
        {"type": "content_block_start", "index": index, "content_block": start},
        *({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def stream_events(
    reply: Reply, ids: MessageIds, model: str, stop_sequence: str | None, words_per_chunk: int
) -> list[bytes]:
    """The SSE events of a streamed Message, in order, ending with ``message_stop``."""
    start = {**message_dict(reply, ids, model, None), "content": [], "stop_reason": None}
    start["usage"] = _usage(reply, 1)
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}, {"type": "ping"}]
    for index, block in enumerate(_blocks(reply, ids)):
        if block["type"] == "text":
            deltas = [{"type": "text_delta", "text": piece} for piece in split_text(block["text"], words_per_chunk)]
        else:
            arguments = orjson.dumps(block["input"]).decode()
            pieces = ["", *split_even(arguments, ARGUMENT_PIECES)]  # the API's first piece is often empty
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
        events.extend(_block_events(index, block, deltas))
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(reply, stop_sequence), "stop_sequence": stop_sequence},
            "usage": {"output_tokens": reply.completion_tokens},
        }
    )
    events.append({"type": "message_stop"})
    return [sse_event(event) for event in events]
