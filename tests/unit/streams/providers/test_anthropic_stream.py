"""``AnthropicStreamParser``: Anthropic's SSE bytes, however they are split, -> the same deltas; what it
skips (ping, new event types, thinking) and what breaks it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.errors import (
    ContextWindowExceeded,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
    TurnoutError,
)
from schemas.events import Usage
from streams.providers.accumulate import StreamAccumulator
from streams.providers.anthropic_stream import AnthropicStreamParser
from streams.providers.base import StreamDelta, ToolCallDelta


def event(data: dict[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name or data['type']}\n".encode()
    return head + b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def start(usage: dict[str, int] | None = None) -> bytes:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": []}
    return event({"type": "message_start", "message": {**message, "usage": usage or {"input_tokens": 9}}})


def block_start(index: int, block: dict[str, Any]) -> bytes:
    return event({"type": "content_block_start", "index": index, "content_block": block})


def delta(index: int, body: dict[str, Any]) -> bytes:
    return event({"type": "content_block_delta", "index": index, "delta": body})


def stop(index: int) -> bytes:
    return event({"type": "content_block_stop", "index": index})


def message_delta(reason: str, usage: dict[str, int]) -> bytes:
    return event({"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage})


PING = event({"type": "ping"})
END = event({"type": "message_stop"})

TEXT_STREAM = b"".join(
    [
        start({"input_tokens": 9, "cache_read_input_tokens": 100, "output_tokens": 1}),
        PING,
        block_start(0, {"type": "text", "text": ""}),
        delta(0, {"type": "text_delta", "text": "Héllo"}),
        delta(0, {"type": "text_delta", "text": " wörld 😀"}),
        stop(0),
        message_delta("end_turn", {"output_tokens": 4}),
        END,
    ]
)
START_USAGE = Usage(prompt_tokens=109, completion_tokens=1, cached_tokens=100, total_tokens=110)
FINAL_USAGE = Usage(prompt_tokens=109, completion_tokens=4, cached_tokens=100, total_tokens=113)
TEXT_DELTAS = [
    StreamDelta(usage=START_USAGE, response_id="msg_1"),
    StreamDelta(content="Héllo"),
    StreamDelta(content=" wörld 😀"),
    StreamDelta(finish_reason="stop", usage=FINAL_USAGE),
]


def run(data: bytes, step: int | None = None) -> list[StreamDelta]:
    parser = AnthropicStreamParser()
    pieces = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    deltas = [d for piece in pieces for d in parser.feed(piece)]
    parser.close()
    return deltas


@pytest.mark.parametrize("step", [None, 1, 2, 7, 64])
def test_text_stream_split_anywhere(step: int | None) -> None:
    assert run(TEXT_STREAM, step) == TEXT_DELTAS


def test_crlf_line_endings_comments_and_multiline_data() -> None:
    data = TEXT_STREAM.replace(b"\n", b"\r\n")
    assert run(b": a comment\r\n\r\n" + data) == TEXT_DELTAS
    split = b'event: ping\ndata: {"type":\ndata: "ping"}\n\n'
    assert run(split + TEXT_STREAM) == TEXT_DELTAS


def test_unknown_events_and_events_after_message_stop_are_skipped() -> None:
    new_kind = event({"type": "content_block_annotation", "index": 0, "note": "later API"})
    late = delta(0, {"type": "text_delta", "text": "late"})
    assert run(new_kind + TEXT_STREAM + late) == TEXT_DELTAS


def test_tool_index_counts_tool_calls_not_blocks() -> None:
    data = b"".join(
        [
            start(),
            block_start(0, {"type": "thinking", "thinking": ""}),
            delta(0, {"type": "thinking_delta", "thinking": "Let me see"}),
            delta(0, {"type": "signature_delta", "signature": "EqQB"}),
            stop(0),
            block_start(1, {"type": "text", "text": "Sure. "}),
            stop(1),
            block_start(2, {"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {}}),
            delta(2, {"type": "input_json_delta", "partial_json": '{"q": '}),
            delta(2, {"type": "input_json_delta", "partial_json": '"x"}'}),
            stop(2),
            block_start(3, {"type": "tool_use", "id": "toolu_b", "name": "now", "input": {"tz": "UTC"}}),
            stop(3),
            message_delta("tool_use", {"output_tokens": 30}),
            END,
        ]
    )
    tools = [d.tool_calls for d in run(data, 5) if d.tool_calls]
    assert tools == [
        [ToolCallDelta(index=0, id="toolu_a", name="lookup")],
        [ToolCallDelta(index=0, arguments='{"q": ')],
        [ToolCallDelta(index=0, arguments='"x"}')],
        [ToolCallDelta(index=1, id="toolu_b", name="now")],
        [ToolCallDelta(index=1, arguments='{"tz":"UTC"}')],  # the input came whole in content_block_start
    ]
    whole = StreamAccumulator()
    for d in run(data):
        whole.add(d)
    reply = whole.response("claude-x", created=0)
    assert reply.content == "Sure. "
    assert reply.finish_reason == "tool_calls"


def test_message_delta_usage_overrides_the_start() -> None:
    data = start({"input_tokens": 5}) + message_delta("max_tokens", {"input_tokens": 7, "output_tokens": 3}) + END
    assert run(data)[-1] == StreamDelta(
        finish_reason="length", usage=Usage(prompt_tokens=7, completion_tokens=3, total_tokens=10)
    )


def test_close_requires_message_stop() -> None:
    parser = AnthropicStreamParser()
    parser.feed(TEXT_STREAM.removesuffix(END))
    with pytest.raises(ProviderStreamBroken):
        parser.close()
    parser = AnthropicStreamParser()
    parser.feed(TEXT_STREAM.removesuffix(END) + END.removesuffix(b"\n"))  # SSE drops an event left unfinished
    with pytest.raises(ProviderStreamBroken):
        parser.close()


@pytest.mark.parametrize(
    ("err", "cls"),
    [
        ({"type": "overloaded_error", "message": "Overloaded"}, ProviderOverloaded),
        ({"type": "rate_limit_error", "message": "slow down"}, ProviderRateLimited),
        (
            {"type": "invalid_request_error", "message": "prompt is too long: 9 tokens > 8 maximum"},
            ContextWindowExceeded,
        ),
        ({"type": "api_error", "message": "Internal server error"}, ProviderError),
        ({"type": "brand_new_error", "message": "?"}, ProviderError),
        ("not an object", ProviderError),
    ],
)
def test_error_events_are_classified(err: Any, cls: type[TurnoutError]) -> None:
    parser = AnthropicStreamParser()
    parser.feed(start() + block_start(0, {"type": "text", "text": ""}))
    with pytest.raises(TurnoutError) as caught:
        parser.feed(event({"type": "error", "error": err}))
    assert type(caught.value) is cls
    assert caught.value.upstream_status is None  # the HTTP status was 200


@pytest.mark.parametrize(
    "bad",
    [
        b"data: {not json}\n\n",
        b"data: [1, 2]\n\n",
        event({"type": "message_start"}),
        event({"type": "content_block_delta", "index": 5, "delta": {"type": "text_delta", "text": "x"}}),
        event({"type": "content_block_stop", "index": 9}),
        event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}),
        event({"type": "content_block_start", "index": "zero", "content_block": {"type": "text", "text": ""}}),
        event({"type": "message_delta", "delta": "end_turn"}),
    ],
)
def test_malformed_events_break_the_stream(bad: bytes) -> None:
    parser = AnthropicStreamParser()
    parser.feed(start() + block_start(0, {"type": "text", "text": ""}))
    with pytest.raises(ProviderStreamBroken):
        parser.feed(bad)
