"""Bedrock Converse replies -> Turnout's unified reply: the JSON of ``Converse`` and the event
stream of ``ConverseStream``.

Written from the Bedrock Runtime API reference: ``ConverseResponse`` (``output.message.content``
blocks, ``stopReason``, ``usage``), ``TokenUsage``, ``StopReason``, and ``ConverseStreamOutput``,
whose events arrive as event-stream messages with ``:message-type`` ``event``, ``:event-type`` one
of ``messageStart``, ``contentBlockStart`` (``start.toolUse {toolUseId, name}``),
``contentBlockDelta`` (``delta.text`` or ``delta.toolUse.input``, a piece of the input's JSON
text), ``contentBlockStop``, ``messageStop`` (``stopReason``) and ``metadata`` (``usage``,
``metrics``), each with a JSON payload. ``metadata`` is the last event: a stream that ends before
it is broken. Text blocks may arrive without a ``contentBlockStart``; events of a type this
parser does not know are skipped (the union grows: reasoning, citations, images).

Usage: Bedrock counts ``inputTokens`` apart from ``cacheReadInputTokens`` and
``cacheWriteInputTokens`` (prompt caching, as on Anthropic's API); Turnout's ``prompt_tokens``,
like OpenAI's, is all of the input, with the cache reads as ``cached_tokens``.

JSON mode: a ``response_format`` of type ``json_schema`` is sent as a forced tool named
:data:`JSON_TOOL_NAME` (see ``streams.providers.bedrock``); its ``toolUse`` input is the reply's
content, and calling it ends the turn as ``stop``, not ``tool_calls``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from schemas.errors import ProviderError, ProviderStreamBroken
from schemas.events import ChatResponse, ToolCall, Usage
from streams.providers.base import StreamDelta, ToolCallDelta
from streams.providers.bedrock_errors import bedrock_error, error_type_name
from streams.providers.eventstream import EventStreamDecoder, EventStreamMessage

__all__ = [
    "FINISH_REASONS",
    "JSON_TOOL_NAME",
    "BedrockStreamParser",
    "finish_reason",
    "parse_converse_response",
    "usage_from_bedrock",
]

JSON_TOOL_NAME = "turnout_json_response"

# Bedrock stopReason -> OpenAI finish_reason
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "stop",
    "malformed_tool_use": "stop",
}


def finish_reason(stop_reason: object, only_json_tool: bool = False) -> str:
    reason = FINISH_REASONS.get(stop_reason if isinstance(stop_reason, str) else "", "stop")
    return "stop" if reason == "tool_calls" and only_json_tool else reason


def _count(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def usage_from_bedrock(data: object) -> Usage:
    if not isinstance(data, dict):
        return Usage()
    cached = _count(data, "cacheReadInputTokens")
    prompt = _count(data, "inputTokens") + cached + _count(data, "cacheWriteInputTokens")
    completion = _count(data, "outputTokens")
    total = max(_count(data, "totalTokens"), prompt + completion)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached, total_tokens=total)


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


def parse_converse_response(body: bytes, upstream_model: str) -> ChatResponse:
    try:
        data = orjson.loads(body)
        blocks = data["output"]["message"]["content"]
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise ValueError("output.message.content is not a list of content blocks")
        texts: list[str] = []
        calls: list[ToolCall] = []
        json_content: str | None = None
        for block in blocks:
            if "text" in block:
                texts.append(str(block["text"]))
            elif "toolUse" in block:
                use = block["toolUse"]
                if use["name"] == JSON_TOOL_NAME:
                    json_content = _json_text(use.get("input", {}))
                else:
                    calls.append(ToolCall(str(use["toolUseId"]), str(use["name"]), _json_text(use.get("input", {}))))
        content = json_content if json_content is not None else ("".join(texts) if texts or not calls else None)
        return ChatResponse(
            id="",  # Converse replies carry no id; the request id is in the x-amzn-requestid header
            content=content,
            tool_calls=calls,
            finish_reason=finish_reason(data.get("stopReason"), only_json_tool=json_content is not None and not calls),
            usage=usage_from_bedrock(data.get("usage")),
            upstream_model=upstream_model,
            created=0,
        )
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise ProviderError(f"The provider sent a response Turnout cannot read: {exc!r}") from None


class BedrockStreamParser:
    """ConverseStream event-stream bytes -> deltas in OpenAI's terms."""

    def __init__(self) -> None:
        self._decoder = EventStreamDecoder()
        self._tool_index: dict[int, int] = {}  # contentBlockIndex -> OpenAI tool_calls index
        self._json_blocks: set[int] = set()  # blocks of the JSON-mode tool: their input is content
        self._done = False

    def feed(self, data: bytes) -> list[StreamDelta]:
        deltas: list[StreamDelta] = []
        for message in self._decoder.feed(data):
            delta = self._message(message)
            if delta is not None:
                deltas.append(delta)
        return deltas

    def close(self) -> None:
        if self._decoder.pending:
            raise ProviderStreamBroken("The provider's event stream ended inside a message.")
        if not self._done:
            raise ProviderStreamBroken("The provider's event stream ended before its metadata event.")

    def _message(self, message: EventStreamMessage) -> StreamDelta | None:
        kind = message.header_text(":message-type")
        if kind == "exception":
            raise bedrock_error(
                error_type_name(message.header_text(":exception-type")), _payload_message(message.payload)
            )
        if kind == "error":
            code = error_type_name(message.header_text(":error-code"))
            raise bedrock_error(code, message.header_text(":error-message") or "The provider's stream failed.")
        if kind != "event":
            raise ProviderStreamBroken(f"The provider sent an event-stream message of type {kind!r}.")
        try:
            payload = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            raise ProviderStreamBroken("The provider sent an unreadable stream event.") from None
        if not isinstance(payload, dict):
            raise ProviderStreamBroken("The provider sent a stream event that is not an object.")
        try:
            return self._event(message.header_text(":event-type"), payload)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderStreamBroken(f"The provider sent a malformed stream event: {exc!r}") from None

    def _event(self, event_type: str | None, payload: dict[str, Any]) -> StreamDelta | None:
        if event_type == "contentBlockStart":
            return self._block_start(int(payload["contentBlockIndex"]), payload["start"])
        if event_type == "contentBlockDelta":
            return self._block_delta(int(payload["contentBlockIndex"]), payload["delta"])
        if event_type == "messageStop":
            only_json = bool(self._json_blocks) and not self._tool_index
            return StreamDelta(finish_reason=finish_reason(payload["stopReason"], only_json_tool=only_json))
        if event_type == "metadata":
            self._done = True
            return StreamDelta(usage=usage_from_bedrock(payload["usage"]))
        return None  # messageStart, contentBlockStop, and event types added after this was written

    def _block_start(self, block: int, start: dict[str, Any]) -> StreamDelta | None:
        use = start.get("toolUse")
        if not isinstance(use, dict):
            return None
        if use["name"] == JSON_TOOL_NAME:
            self._json_blocks.add(block)
            return None
        index = self._tool_index.setdefault(block, len(self._tool_index))
        return StreamDelta(tool_calls=[ToolCallDelta(index=index, id=str(use["toolUseId"]), name=str(use["name"]))])

    def _block_delta(self, block: int, delta: dict[str, Any]) -> StreamDelta | None:
        if "text" in delta:
            return StreamDelta(content=str(delta["text"]))
        use = delta.get("toolUse")
        if not isinstance(use, dict):
            return None  # reasoning, citations and other deltas carry no reply text
        piece = str(use["input"])
        if block in self._json_blocks:
            return StreamDelta(content=piece)
        if block not in self._tool_index:
            raise ProviderStreamBroken(f"The provider streamed tool input for block {block} before its start.")
        return StreamDelta(tool_calls=[ToolCallDelta(index=self._tool_index[block], arguments=piece)])


def _payload_message(payload: bytes) -> str:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "The provider's stream reported an error."
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) and message else "The provider's stream reported an error."
