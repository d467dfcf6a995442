"""Anthropic's Messages SSE stream -> ``StreamDelta``s in OpenAI's terms.

Written from the "Streaming messages" page (platform.claude.com/docs/en/build-with-claude/streaming):
every event has an SSE ``event:`` name and JSON ``data`` whose ``type`` is the same name. The flow
is ``message_start`` (a Message with empty content and the input usage), then per content block
``content_block_start`` / ``content_block_delta``s / ``content_block_stop`` (each with the block's
``index`` in the final content), one or more ``message_delta`` (``stop_reason``; usage counts are
cumulative) and a final ``message_stop``. Any number of ``ping`` events may come; an ``error``
event (e.g. ``overloaded_error``) can arrive after the 200. The page also says new event types
may be added and should be handled gracefully, so an unknown event type is skipped, while bytes
that are not an event (undecodable JSON, a ``data`` that is not an object) break the stream.

Deltas: ``text_delta`` -> content; a ``tool_use`` block start -> a ``ToolCallDelta`` with its
``id`` and ``name`` whose ``index`` is the tool's position among the tool calls (not the block's
index, which counts text blocks too); ``input_json_delta.partial_json`` -> argument pieces. The
JSON-mode tool's pieces are content. Thinking and other block kinds are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.errors import ProviderStreamBroken
from streams.providers.anthropic_errors import classify_stream_error
from streams.providers.anthropic_response import JSON_TOOL_NAME, finish_reason, tool_arguments, usage_from_anthropic
from streams.providers.base import StreamDelta, ToolCallDelta

__all__ = ["AnthropicStreamParser"]

_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


@dataclass(slots=True)
class _Block:
    kind: str  # "text", "tool", "json" (the JSON-mode tool) or "other"
    tool_index: int = -1
    start_input: Any = None
    got_json: bool = False


class AnthropicStreamParser:
    """Turns the bytes of an Anthropic Messages SSE stream into deltas, however they are split."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._done = False
        self._blocks: dict[int, _Block] = {}
        self._tools = 0
        self._usage: dict[str, int] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], list[StreamDelta]]] = {
            "message_start": self._message_start,
            "content_block_start": self._block_start,
            "content_block_delta": self._block_delta,
            "content_block_stop": self._block_stop,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
        }

    def feed(self, data: bytes) -> list[StreamDelta]:
        self._buffer += data
        deltas: list[StreamDelta] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            line = self._buffer[:end].rstrip(b"\r")
            self._buffer = self._buffer[end + 1 :]
            if not line:
                deltas.extend(self._dispatch())
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            # "event:" names repeat the data's "type", which is what is read; comments and other fields are skipped
        return deltas

    def close(self) -> None:
        if not self._done:
            raise ProviderStreamBroken("The provider's stream ended before message_stop.")

    def _dispatch(self) -> list[StreamDelta]:
        if not self._data:
            return []
        payload, self._data = b"\n".join(self._data), []
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ProviderStreamBroken("The provider sent an unreadable stream event.") from None
        if not isinstance(event, dict):
            raise ProviderStreamBroken("The provider sent a stream event that is not an object.")
        kind = event.get("type")
        if kind == "error":
            raise classify_stream_error(event.get("error"))
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None or self._done:
            return []  # ping, event types added later, anything after message_stop
        try:
            return handler(event)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderStreamBroken(f"The provider sent a malformed {kind} event: {exc!r}") from None

    def _usage_delta(self, usage: dict[str, Any] | None, **fields: Any) -> StreamDelta:
        for key in _USAGE_KEYS:
            if usage and usage.get(key) is not None:
                self._usage[key] = int(usage[key])
        return StreamDelta(usage=usage_from_anthropic(self._usage), **fields)

    def _message_start(self, event: dict[str, Any]) -> list[StreamDelta]:
        message = event["message"]
        return [self._usage_delta(message.get("usage"), response_id=str(message["id"]))]

    def _block_start(self, event: dict[str, Any]) -> list[StreamDelta]:
        index, block = int(event["index"]), event["content_block"]
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text")
            return [StreamDelta(content=str(block["text"]))] if block.get("text") else []
        if kind == "tool_use" and block.get("name") == JSON_TOOL_NAME:
            self._blocks[index] = _Block("json", start_input=block.get("input"))
            return []
        if kind == "tool_use":
            self._blocks[index] = _Block("tool", self._tools, block.get("input"))
            self._tools += 1
            call = ToolCallDelta(index=self._tools - 1, id=str(block["id"]), name=str(block["name"]))
            return [StreamDelta(tool_calls=[call])]
        self._blocks[index] = _Block("other")
        return []

    def _block(self, event: dict[str, Any]) -> _Block:
        block = self._blocks.get(int(event["index"]))
        if block is None:
            raise ProviderStreamBroken(f"The provider's stream sent {event.get('type')} for a block it never started.")
        return block

    def _block_delta(self, event: dict[str, Any]) -> list[StreamDelta]:
        block, delta = self._block(event), event["delta"]
        kind = delta.get("type")
        if kind == "text_delta":
            return [StreamDelta(content=str(delta["text"]))]
        if kind != "input_json_delta" or block.kind not in ("tool", "json"):
            return []  # thinking, signature and citation deltas
        piece = str(delta["partial_json"])
        block.got_json = block.got_json or bool(piece)
        return [self._arguments(block, piece)] if piece else []

    def _block_stop(self, event: dict[str, Any]) -> list[StreamDelta]:
        block = self._block(event)
        if block.kind in ("tool", "json") and not block.got_json:
            return [self._arguments(block, tool_arguments(block.start_input or {}))]  # the input came whole, or empty
        return []

    @staticmethod
    def _arguments(block: _Block, piece: str) -> StreamDelta:
        if block.kind == "json":
            return StreamDelta(content=piece)
        return StreamDelta(tool_calls=[ToolCallDelta(index=block.tool_index, arguments=piece)])

    def _message_delta(self, event: dict[str, Any]) -> list[StreamDelta]:
        reason = (event.get("delta") or {}).get("stop_reason")
        finish = finish_reason(reason, self._tools > 0) if reason is not None else None
        return [self._usage_delta(event.get("usage"), finish_reason=finish)]

    def _message_stop(self, event: dict[str, Any]) -> list[StreamDelta]:
        self._done = True
        return []
