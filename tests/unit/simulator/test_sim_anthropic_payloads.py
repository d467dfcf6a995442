"""``simulator.anthropic_payloads``: the Message, its event sequence and the error kinds; the events are
read back with Turnout's own Anthropic stream parser, so simulator and adapter agree."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from simulator.anthropic_payloads import MessageIds, error_body, error_kind, message_dict, stream_events, tool_input
from simulator.replies import Reply, ToolCall
from streams.providers.accumulate import StreamAccumulator
from streams.providers.anthropic_stream import AnthropicStreamParser

IDS = MessageIds("msg_1", "toolu_1")
TEXT = Reply("Simulated reply from m: hello there friend", None, "stop", 12, 7)
TOOL = Reply(None, ToolCall("call_x", "lookup", '{"q": "long enough to be split"}'), "tool_calls", 12, 18)


def events(reply: Reply, stop: str | None = None) -> list[dict[str, Any]]:
    out = []
    for raw in stream_events(reply, IDS, "m", stop, words_per_chunk=2):
        name, data = raw.decode().split("\n")[:2]
        payload = orjson.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        out.append(payload)
    return out


def test_text_message() -> None:
    body = message_dict(TEXT, IDS, "m", None)
    assert body == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "text", "text": TEXT.content}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 7,
            "service_tier": "standard",
        },
    }
    assert message_dict(TEXT, IDS, "m", "END")["stop_reason"] == "stop_sequence"


def test_tool_message_uses_toolu_ids() -> None:
    body = message_dict(TOOL, IDS, "m", None)
    assert body["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "long enough to be split"}}
    ]
    assert body["stop_reason"] == "tool_use"


def test_text_event_sequence() -> None:
    kinds = [e["type"] for e in events(TEXT)]
    assert kinds[:3] == ["message_start", "ping", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[3:-3]) == {"content_block_delta"}
    start = events(TEXT)[0]["message"]
    assert (start["content"], start["stop_reason"], start["usage"]["input_tokens"]) == ([], None, 12)


@pytest.mark.parametrize(("reply", "stop"), [(TEXT, None), (TEXT, "END"), (TOOL, None)])
def test_events_read_back_as_the_message(reply: Reply, stop: str | None) -> None:
    parser = AnthropicStreamParser()
    whole = StreamAccumulator()
    for raw in stream_events(reply, IDS, "m", stop, words_per_chunk=2):
        for delta in parser.feed(raw):
            whole.add(delta)
    parser.close()
    got = whole.response("m", created=0)
    assert got.content == reply.content
    assert [(c.id, c.name, orjson.loads(c.arguments)) for c in got.tool_calls] == (
        [("toolu_1", "lookup", {"q": "long enough to be split"})] if reply.tool_call else []
    )
    assert got.finish_reason == reply.finish_reason
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (12, reply.completion_tokens)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, (400, "invalid_request_error")),
        (401, (401, "authentication_error")),
        (403, (403, "permission_error")),
        (404, (404, "not_found_error")),
        (429, (429, "rate_limit_error")),
        (500, (500, "api_error")),
        (503, (529, "overloaded_error")),
        (529, (529, "overloaded_error")),
        (502, (502, "api_error")),
        (418, (418, "invalid_request_error")),
    ],
)
def test_error_kinds(status: int, expected: tuple[int, str]) -> None:
    kind = error_kind(status)
    assert (kind.status, kind.type) == expected


def test_error_body_and_tool_input() -> None:
    assert error_body("api_error", "boom", "req_1") == {
        "type": "error",
        "error": {"type": "api_error", "message": "boom"},
        "request_id": "req_1",
    }
    assert tool_input("") == {}
    assert tool_input("[1]") == {"value": [1]}
    assert tool_input("{oops") == {"arguments": "{oops"}
