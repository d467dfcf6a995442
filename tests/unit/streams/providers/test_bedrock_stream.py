"""``BedrockStreamParser``: ConverseStream frames -> deltas; errors and damage -> typed errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
    TurnoutError,
)
from schemas.events import Usage
from simulator.eventstream_encoder import encode_message
from streams.providers.base import StreamDelta, ToolCallDelta
from streams.providers.bedrock_response import BedrockStreamParser


def event(event_type: str, payload: Any) -> bytes:
    headers = [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")]
    return encode_message(headers, orjson.dumps(payload))


def exception(exception_type: str, message: str) -> bytes:
    headers = [(":exception-type", exception_type), (":message-type", "exception")]
    return encode_message(headers, orjson.dumps({"message": message}))


METADATA = event(
    "metadata", {"usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7}, "metrics": {"latencyMs": 1}}
)


def feed(*frames: bytes) -> list[StreamDelta]:
    parser = BedrockStreamParser()
    deltas = [d for frame in frames for d in parser.feed(frame)]
    parser.close()
    return deltas


def test_text_stream() -> None:
    deltas = feed(
        event("messageStart", {"role": "assistant"}),
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hé"}}),
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "end_turn"}),
        METADATA,
    )
    assert deltas == [
        StreamDelta(content="Hé"),
        StreamDelta(finish_reason="stop"),
        StreamDelta(usage=Usage(prompt_tokens=5, completion_tokens=2, total_tokens=7)),
    ]


def test_tool_blocks_are_numbered_among_tool_calls() -> None:
    deltas = feed(
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "ok"}}),
        event("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "a", "name": "f"}}}),
        event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}),
        event("messageStop", {"stopReason": "tool_use"}),
        METADATA,
    )
    assert deltas[1:3] == [
        StreamDelta(tool_calls=[ToolCallDelta(index=0, id="a", name="f")]),
        StreamDelta(tool_calls=[ToolCallDelta(index=0, arguments="{}")]),
    ]
    assert deltas[3] == StreamDelta(finish_reason="tool_calls")


def test_tool_input_before_its_block_start_is_broken() -> None:
    with pytest.raises(ProviderStreamBroken):
        feed(event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}))


@pytest.mark.parametrize(
    ("exception_type", "cls"),
    [
        ("throttlingException", ProviderRateLimited),
        ("serviceUnavailableException", ProviderOverloaded),
        ("internalServerException", ProviderError),
        ("modelStreamErrorException", ProviderError),
        ("validationException", ProviderBadRequest),
        ("somethingNewException", ProviderError),
    ],
)
def test_exception_frames(exception_type: str, cls: type[TurnoutError]) -> None:
    with pytest.raises(TurnoutError) as caught:
        feed(event("messageStart", {"role": "assistant"}), exception(exception_type, "boom"))
    assert type(caught.value) is cls
    assert caught.value.message == "boom"


def test_error_messages_use_their_headers() -> None:
    frame = encode_message(
        [(":message-type", "error"), (":error-code", "UnrecognizedClientException"), (":error-message", "no")]
    )
    with pytest.raises(ProviderAuthError):
        feed(frame)


@pytest.mark.parametrize(
    "frame",
    [
        encode_message([(":message-type", "surprise")], b"{}"),
        encode_message([(":event-type", "metadata")], b"{}"),  # no :message-type
        event("contentBlockDelta", [1, 2]),
        event("contentBlockDelta", {"delta": {"text": "no index"}}),
        event("messageStop", {}),
        event("metadata", {"metrics": {}}),
    ],
)
def test_malformed_events_are_broken_streams(frame: bytes) -> None:
    with pytest.raises(ProviderStreamBroken):
        feed(frame, METADATA)


def test_an_empty_stream_is_broken() -> None:
    with pytest.raises(ProviderStreamBroken):
        feed()


def test_an_exception_payload_that_is_not_json_still_classifies() -> None:
    frame = encode_message([(":message-type", "exception"), (":exception-type", "throttlingException")], b"oops")
    with pytest.raises(ProviderRateLimited):
        feed(frame)
