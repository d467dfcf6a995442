"""``OpenAIStreamParser``: the bytes of an OpenAI SSE stream, however they are split, -> the same deltas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.errors import ProviderError, ProviderStreamBroken
from schemas.events import Usage
from streams.providers.base import StreamDelta, ToolCallDelta
from streams.providers.openai import OpenAIStreamParser

HEAD = {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1_741_569_952, "model": "gpt-4o"}
USAGE = {
    "prompt_tokens": 19,
    "completion_tokens": 3,
    "total_tokens": 22,
    "prompt_tokens_details": {"cached_tokens": 16},
    "completion_tokens_details": {"reasoning_tokens": 0},
}


def _event(data: Any) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def _chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return _event({**HEAD, "choices": [choice], **extra})


TEXT_STREAM = b"".join(
    [
        b": keep-alive comment\n\n",
        _chunk({"role": "assistant", "content": "", "refusal": None}, usage=None),
        _chunk({"content": "Héllo"}, usage=None),
        _chunk({"content": " wörld 😀"}, usage=None),
        _chunk({}, "stop", usage=None),
        _event({**HEAD, "choices": [], "usage": USAGE}),
        b"data: [DONE]\n\n",
    ]
)
TEXT_DELTAS = [
    StreamDelta(content="", response_id="chatcmpl-7"),
    StreamDelta(content="Héllo", response_id="chatcmpl-7"),
    StreamDelta(content=" wörld 😀", response_id="chatcmpl-7"),
    StreamDelta(finish_reason="stop", response_id="chatcmpl-7"),
    StreamDelta(
        usage=Usage(prompt_tokens=19, completion_tokens=3, cached_tokens=16, total_tokens=22), response_id="chatcmpl-7"
    ),
]

TOOL_STREAM = b"".join(
    [
        _chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty":"Oslo"}'}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "call_2", "type": "function", "function": {"name": "now"}}]}),
        _chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ]
)
TOOL_DELTAS = [
    StreamDelta(tool_calls=[ToolCallDelta(index=0, id="call_1", name="get_weather")], response_id="chatcmpl-7"),
    StreamDelta(tool_calls=[ToolCallDelta(index=0, arguments='{"ci')], response_id="chatcmpl-7"),
    StreamDelta(tool_calls=[ToolCallDelta(index=0, arguments='ty":"Oslo"}')], response_id="chatcmpl-7"),
    StreamDelta(tool_calls=[ToolCallDelta(index=1, id="call_2", name="now")], response_id="chatcmpl-7"),
    StreamDelta(finish_reason="tool_calls", response_id="chatcmpl-7"),
]


def _parse(pieces: list[bytes]) -> list[StreamDelta]:
    parser = OpenAIStreamParser()
    deltas = []
    for piece in pieces:
        deltas += parser.feed(piece)
    parser.close()
    return deltas


def _splits(data: bytes) -> list[list[bytes]]:
    """The stream whole, a byte at a time, in two at every point, and in uneven runs."""
    cases = [[data], [data[i : i + 1] for i in range(len(data))]]
    cases += [[data[:i], data[i:]] for i in range(1, len(data))]
    cases += [[data[i : i + n] for i in range(0, len(data), n)] for n in (3, 7, 64, 100)]
    return cases


@pytest.mark.parametrize(
    ("stream", "expected"), [(TEXT_STREAM, TEXT_DELTAS), (TOOL_STREAM, TOOL_DELTAS)], ids=["text", "tools"]
)
def test_any_split_gives_the_same_deltas(stream: bytes, expected: list[StreamDelta]) -> None:
    for pieces in _splits(stream):
        assert _parse(pieces) == expected


def test_crlf_line_endings_and_no_space_after_data() -> None:
    stream = TEXT_STREAM.replace(b"\n", b"\r\n").replace(b"data: ", b"data:")
    assert _parse([stream]) == TEXT_DELTAS


def test_event_and_id_lines_are_ignored() -> None:
    stream = b"event: message\nid: 1\nretry: 100\n" + _chunk({"content": "x"}) + b"data: [DONE]\n\n"
    assert [d.content for d in _parse([stream])] == ["x"]


def test_a_usage_only_final_chunk() -> None:
    parser = OpenAIStreamParser()
    (delta,) = parser.feed(_event({**HEAD, "choices": [], "usage": USAGE}))
    assert delta == StreamDelta(usage=Usage(19, 3, 16, 22), response_id="chatcmpl-7")
    assert parser.feed(_event({**HEAD, "choices": [], "usage": None})) == []
    parser.feed(b"data: [DONE]\n\n")
    parser.close()


def test_a_final_chunk_with_both_choice_and_usage() -> None:
    (delta,) = OpenAIStreamParser().feed(_chunk({}, "length", usage={"prompt_tokens": 2, "completion_tokens": 1}))
    assert delta.finish_reason == "length"
    assert delta.usage == Usage(prompt_tokens=2, completion_tokens=1, total_tokens=3)


def test_done_before_close_is_a_proper_end() -> None:
    parser = OpenAIStreamParser()
    parser.feed(_chunk({"content": "x"}))
    parser.feed(b"data: [DO")
    parser.feed(b"NE]\n\n")
    parser.close()


@pytest.mark.parametrize(
    "pieces",
    [[], [_chunk({"content": "x"})], [_chunk({"content": "x"}), b"data: [DONE]"], [b"data: [DONE"]],
    ids=["empty", "no-done", "done-without-newline", "half-done"],
)
def test_close_without_done_is_a_broken_stream(pieces: list[bytes]) -> None:
    parser = OpenAIStreamParser()
    for piece in pieces:
        parser.feed(piece)
    with pytest.raises(ProviderStreamBroken, match=r"before \[DONE\]"):
        parser.close()


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"error": {"message": "The server is overloaded.", "type": "server_error"}}, "The server is overloaded."),
        ({"error": {"type": "server_error"}}, "The provider's stream reported an error."),
        ({"error": "boom"}, "The provider's stream reported an error."),
    ],
)
def test_an_error_event_raises_a_provider_error(event: dict[str, Any], message: str) -> None:
    parser = OpenAIStreamParser()
    assert parser.feed(_chunk({"content": "x"}))[0].content == "x"
    with pytest.raises(ProviderError) as caught:
        parser.feed(_event(event))
    assert caught.value.message == message


@pytest.mark.parametrize(
    "line",
    [
        b"data: {not json\n\n",
        b"data: [1, 2]\n\n",
        b"data: null\n\n",
        b'data: "text"\n\n',
        b'data: {"choices": [null]}\n\n',
        b'data: {"choices": [{"delta": {"tool_calls": ["x"]}}]}\n\n',
        b'data: {"choices": [], "usage": {"prompt_tokens": "many"}}\n\n',
    ],
)
def test_an_unreadable_event_is_a_provider_error(line: bytes) -> None:
    with pytest.raises(ProviderError):
        OpenAIStreamParser().feed(line)
