"""Replies -> OpenAI's ``chat.completion`` and ``chat.completion.chunk`` objects, as its API reference shows them."""

from __future__ import annotations

import json

import pytest

from ingress.openai_response import SSE_DONE, chunk_body, chunk_delta, completion_body, sse, usage_body
from schemas.events import ChatResponse, ChunkEvent, ToolCall, Usage

CREATED = 1_700_000_000


def _response(**overrides: object) -> ChatResponse:
    fields: dict[str, object] = {
        "id": "upstream-1",
        "content": "Hello there.",
        "finish_reason": "stop",
        "usage": Usage(prompt_tokens=19, completion_tokens=10, cached_tokens=8, total_tokens=29),
        "upstream_model": "gpt-4o-2024-08-06",
        "created": 1,
    }
    fields.update(overrides)
    return ChatResponse(**fields)  # type: ignore[arg-type]


def test_completion_body_is_a_chat_completion() -> None:
    body = completion_body("chatcmpl-r1", "smart-chat", CREATED, _response())
    assert body == {
        "id": "chatcmpl-r1",
        "object": "chat.completion",
        "created": CREATED,
        "model": "smart-chat",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there.", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 8},
        },
    }


def test_completion_body_with_tool_calls() -> None:
    calls = [ToolCall(id="call_1", name="get_weather", arguments='{"city":"Oslo"}'), ToolCall("call_2", "f", "{}")]
    body = completion_body("c", "m", CREATED, _response(content=None, tool_calls=calls, finish_reason="tool_calls"))
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
    ]


@pytest.mark.parametrize(
    ("usage", "total"),
    [
        (Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7), 7),
        (Usage(prompt_tokens=3, completion_tokens=4), 7),  # a provider that sent no total
        (Usage(), 0),
    ],
)
def test_usage_body_fills_in_the_total(usage: Usage, total: int) -> None:
    assert usage_body(usage) == {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def test_chunk_body_is_a_chat_completion_chunk() -> None:
    body = chunk_body("chatcmpl-r1", "smart-chat", CREATED, {"content": "Hel"})
    assert body == {
        "id": "chatcmpl-r1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "smart-chat",
        "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None, "logprobs": None}],
    }


def test_chunk_body_with_include_usage_has_a_null_usage_until_the_last_chunk() -> None:
    body = chunk_body("c", "m", CREATED, {}, finish_reason="length", include_usage=True)
    assert body["usage"] is None
    assert body["choices"][0]["delta"] == {}
    assert body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize(
    ("chunk", "delta"),
    [
        (ChunkEvent(request_id="r", seq=0, deployment="d", content="Hi"), {"content": "Hi"}),
        (ChunkEvent(request_id="r", seq=1, deployment="d"), {}),
        (
            ChunkEvent(
                request_id="r",
                seq=2,
                deployment="d",
                tool_calls_json='[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]',
            ),
            {
                "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
                ]
            },
        ),
        (
            ChunkEvent(request_id="r", seq=3, deployment="d", content="a", tool_calls_json='[{"index":1}]'),
            {"content": "a", "tool_calls": [{"index": 1}]},
        ),
    ],
)
def test_chunk_delta(chunk: ChunkEvent, delta: dict[str, object]) -> None:
    assert chunk_delta(chunk) == delta


def test_sse_frames_one_event() -> None:
    frame = sse({"a": "ü"})
    assert frame.startswith(b"data: ")
    assert frame.endswith(b"\n\n")
    assert json.loads(frame[len(b"data: ") :]) == {"a": "ü"}
    assert SSE_DONE == b"data: [DONE]\n\n"
