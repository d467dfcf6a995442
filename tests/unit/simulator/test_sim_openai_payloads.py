"""OpenAI payload builders: completion object, chunks, tool call deltas, errors."""

from __future__ import annotations

import orjson
import pytest

from simulator.openai_payloads import (
    DONE_EVENT,
    ChunkMaker,
    completion_dict,
    error_kind,
    injected_error_body,
    stream_chunks,
    stream_events,
)
from simulator.replies import Reply, ToolCall

TEXT = Reply("one two three four five six seven", None, "stop", 10, 7)
TOOL = Reply(None, ToolCall("call_1", "lookup", '{"city": "Porto", "days": 3}'), "tool_calls", 10, 17)


def maker(include_usage: bool = True) -> ChunkMaker:
    return ChunkMaker("chatcmpl-x", 123, "m", include_usage)


def test_completion_dict_text() -> None:
    body = completion_dict(TEXT, "chatcmpl-x", 123, "m")
    assert body["object"] == "chat.completion"
    assert (body["id"], body["created"], body["model"]) == ("chatcmpl-x", 123, "m")
    choice = body["choices"][0]
    assert choice == {
        "index": 0,
        "message": {"role": "assistant", "content": TEXT.content, "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "stop",
    }
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (10, 7, 17)


def test_completion_dict_tool_call() -> None:
    message = completion_dict(TOOL, "chatcmpl-x", 1, "m")["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"city": "Porto", "days": 3}'},
        }
    ]


def test_stream_chunks_text_with_usage() -> None:
    chunks = stream_chunks(TEXT, maker(), words_per_chunk=3)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:-2]]
    assert contents == ["one two three ", "four five six ", "seven"]
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 17
    assert all(c["usage"] is None for c in chunks[:-1])
    assert {c["id"] for c in chunks} == {"chatcmpl-x"}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}


def test_stream_chunks_without_usage_have_no_usage_key() -> None:
    chunks = stream_chunks(TEXT, maker(include_usage=False), words_per_chunk=3)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_chunks_tool_call_deltas() -> None:
    chunks = stream_chunks(TOOL, maker(include_usage=False), words_per_chunk=3)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-1]]
    assert calls[0] == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup", "arguments": ""},
    }
    assert all(set(call) == {"index", "function"} for call in calls[1:])
    assert len(calls) >= 3
    assert "".join(call["function"]["arguments"] for call in calls) == TOOL.tool_call.arguments  # type: ignore[union-attr]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_events_are_sse_and_end_with_done() -> None:
    events = stream_events(TEXT, maker(), words_per_chunk=3)
    assert events[-1] == DONE_EVENT == b"data: [DONE]\n\n"
    for event in events[:-1]:
        assert event.startswith(b"data: ") and event.endswith(b"\n\n")
        orjson.loads(event[6:])


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (400, "invalid_request_error", None),
        (401, "invalid_request_error", "invalid_api_key"),
        (404, "invalid_request_error", "model_not_found"),
        (429, "rate_limit_error", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", "server_is_overloaded"),
        (502, "server_error", None),
        (418, "invalid_request_error", None),
    ],
)
def test_error_kinds(status: int, type_: str, code: str | None) -> None:
    kind = error_kind(status)
    assert (kind.type, kind.code) == (type_, code)
    body = injected_error_body(status, "gpt-x")
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == type_
    assert f"simulated {status}" in body["error"]["message"]
