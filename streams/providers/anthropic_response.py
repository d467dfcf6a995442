"""Anthropic's Message object -> the unified ``ChatResponse`` (and the pieces streams share).

Written from the Messages API reference (platform.claude.com/docs/en/api/messages): the reply's
``content`` is a list of blocks; ``text`` blocks are the reply text, ``tool_use`` blocks
(``id``, ``name``, ``input`` object) are tool calls. Other blocks (``thinking``,
``redacted_thinking``, server tools) have no place in OpenAI's shape and are left out.

``stop_reason`` -> OpenAI's finish reason: ``end_turn``, ``stop_sequence`` and ``pause_turn`` ->
``stop``; ``max_tokens`` and ``model_context_window_exceeded`` -> ``length``; ``tool_use`` ->
``tool_calls``; ``refusal`` -> ``content_filter``.

Usage: Anthropic's ``input_tokens`` counts only the input after the last cache breakpoint; the
input read from the cache (``cache_read_input_tokens``) and written to it
(``cache_creation_input_tokens``) are counted apart (prompt-caching page: total input = the
three summed). Turnout's ``prompt_tokens`` is that total, as OpenAI's ``prompt_tokens`` includes
its cached tokens, and ``cached_tokens`` is the cache read. So a request is costed on every input
token it sent, though Anthropic bills cache writes and reads at other rates.

JSON mode with a schema comes back as a call of the gateway's own tool ``JSON_TOOL_NAME`` (see
``streams.providers.anthropic``): its input is the answer, so it becomes the reply's ``content``
and not a tool call, and its ``tool_use`` stop is a plain ``stop``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson

from schemas.errors import ProviderError
from schemas.events import ChatResponse, ToolCall, Usage

__all__ = ["JSON_TOOL_NAME", "finish_reason", "parse_message", "tool_arguments", "usage_from_anthropic"]

JSON_TOOL_NAME = "turnout_json_response"

_FINISH_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "pause_turn": "stop",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "tool_use": "tool_calls",
        "refusal": "content_filter",
    }
)


def finish_reason(stop_reason: Any, has_tool_calls: bool) -> str:
    """OpenAI's finish reason for Anthropic's ``stop_reason`` (``stop`` for an unknown one)."""
    reason = _FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    if reason == "tool_calls" and not has_tool_calls:
        return "stop"  # only the JSON-mode tool was called: that is the answer
    return reason


def usage_from_anthropic(data: Mapping[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    read = int(data.get("cache_read_input_tokens") or 0)
    prompt = int(data.get("input_tokens") or 0) + read + int(data.get("cache_creation_input_tokens") or 0)
    completion = int(data.get("output_tokens") or 0)
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, cached_tokens=read, total_tokens=prompt + completion
    )


def tool_arguments(tool_input: Any) -> str:
    """A tool_use block's ``input`` as OpenAI's arguments string."""
    return orjson.dumps(tool_input if tool_input is not None else {}).decode()


def parse_message(body: bytes, upstream_model: str) -> ChatResponse:
    try:
        data = orjson.loads(body)
        texts: list[str] = []
        calls: list[ToolCall] = []
        answer: str | None = None
        for block in data.get("content") or []:
            kind = block.get("type")
            if kind == "text":
                texts.append(str(block["text"]))
            elif kind == "tool_use" and block.get("name") == JSON_TOOL_NAME:
                answer = tool_arguments(block.get("input"))
            elif kind == "tool_use":
                calls.append(ToolCall(str(block["id"]), str(block["name"]), tool_arguments(block.get("input"))))
        text = answer if answer is not None else "".join(texts)
        return ChatResponse(
            id=str(data.get("id", "")),
            content=text if text or not calls else None,
            tool_calls=calls,
            finish_reason=finish_reason(data.get("stop_reason"), bool(calls)),
            usage=usage_from_anthropic(data.get("usage")),
            upstream_model=str(data.get("model") or upstream_model),
            created=int(time.time()),  # a Message carries no creation time
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ProviderError(f"The provider sent a response Turnout cannot read: {exc}") from None
