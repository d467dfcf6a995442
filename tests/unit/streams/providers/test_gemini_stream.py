"""``GeminiStreamParser``: the bytes of a Gemini ``alt=sse`` stream, however they are split, -> the same deltas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.errors import (
    ProviderContentPolicy,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
    TurnoutError,
)
from schemas.events import Usage
from streams.providers.base import StreamDelta, ToolCallDelta
from streams.providers.gemini_stream import GeminiStreamParser

PROMPT_ONLY = {"promptTokenCount": 5, "totalTokenCount": 5}
FINAL = {"promptTokenCount": 5, "candidatesTokenCount": 3, "thoughtsTokenCount": 7, "totalTokenCount": 15}


def event(data: Any, end: bytes = b"\r\n\r\n") -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + end


def fragment(parts: list[dict[str, Any]], finish: str | None = None, usage: dict[str, Any] | None = None) -> bytes:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return event({"candidates": [candidate], "usageMetadata": usage or PROMPT_ONLY, "responseId": "r1"})


TEXT_STREAM = b"".join(
    [
        b": a comment\r\n\r\n",
        fragment([{"text": "thinking...", "thought": True}]),
        fragment([{"text": "Héllo"}]),
        fragment([{"text": " wörld 😀"}], "STOP", FINAL),
    ]
)
TEXT_DELTAS = [
    StreamDelta(usage=Usage(5, 0, 0, 5), response_id="r1"),
    StreamDelta(content="Héllo", usage=Usage(5, 0, 0, 5), response_id="r1"),
    StreamDelta(content=" wörld 😀", finish_reason="stop", usage=Usage(5, 10, 0, 15), response_id="r1"),
]


def run(data: bytes, step: int | None = None) -> list[StreamDelta]:
    parser = GeminiStreamParser()
    deltas: list[StreamDelta] = []
    size = step or len(data)
    for start in range(0, len(data), size):
        deltas.extend(parser.feed(data[start : start + size]))
    parser.close()
    return deltas


@pytest.mark.parametrize("step", [None, 1, 2, 7])
def test_text_stream_split_anywhere(step: int | None) -> None:
    assert run(TEXT_STREAM, step) == TEXT_DELTAS


def test_lf_framed_events_read_the_same() -> None:
    assert run(TEXT_STREAM.replace(b"\r\n", b"\n")) == TEXT_DELTAS


def test_calls_are_indexed_across_events_and_finish_as_tool_calls() -> None:
    data = b"".join(
        [
            fragment([{"text": "Checking both."}, {"functionCall": {"name": "a", "args": {"x": 1}}}]),
            fragment([{"functionCall": {"name": "b"}}, {"functionCall": {"name": "a", "args": {}}}], "STOP", FINAL),
        ]
    )
    deltas = run(data, 3)
    assert deltas[0].content == "Checking both."
    calls = [call for d in deltas for call in d.tool_calls]
    assert calls == [
        ToolCallDelta(0, "call_0_a", "a", '{"x":1}'),
        ToolCallDelta(1, "call_1_b", "b", "{}"),
        ToolCallDelta(2, "call_2_a", "a", "{}"),
    ]
    assert deltas[-1].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("finish", "mapped"), [("MAX_TOKENS", "length"), ("RECITATION", "content_filter"), ("OTHER", "stop")]
)
def test_finish_reasons(finish: str, mapped: str) -> None:
    assert run(fragment([{"text": "x"}], finish))[-1].finish_reason == mapped


def test_events_after_the_finish_are_still_read() -> None:
    deltas = run(fragment([{"text": "x"}], "STOP") + event({"usageMetadata": FINAL}))
    assert deltas[-1].usage == Usage(5, 10, 0, 15)


def test_close_before_a_finish_reason_is_a_broken_stream() -> None:
    parser = GeminiStreamParser()
    parser.feed(fragment([{"text": "x"}]) + b'data: {"candidates": [{"finishReason": "STOP"')
    with pytest.raises(ProviderStreamBroken):
        parser.close()


@pytest.mark.parametrize(
    ("raw", "cls"),
    [
        (b"data: {not json}\r\n", ProviderStreamBroken),
        (b"data: 42\r\n", ProviderStreamBroken),
        (b"data: [1, 2]\r\n", ProviderStreamBroken),
        (event({"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}), ProviderStreamBroken),
        (event({"candidates": ["text"]}), ProviderStreamBroken),
        (
            event({"error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}}),
            ProviderRateLimited,
        ),
        (event([{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}]), ProviderOverloaded),
        (event({"error": "boom"}), ProviderError),
        (event({"promptFeedback": {"blockReason": "SAFETY"}}), ProviderContentPolicy),
    ],
)
def test_bad_and_error_events(raw: bytes, cls: type[TurnoutError]) -> None:
    parser = GeminiStreamParser()
    with pytest.raises(cls) as caught:
        parser.feed(fragment([{"text": "ok"}]) + raw)
    assert type(caught.value) is cls


def test_an_error_event_message_is_kept() -> None:
    parser = GeminiStreamParser()
    with pytest.raises(ProviderError, match="An internal error has occurred"):
        parser.feed(event({"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}))
