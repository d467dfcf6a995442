"""The stream guard: held-back windows, patterns and placeholders split across chunks, a stop."""

from __future__ import annotations

import pytest

from schemas.errors import GuardrailBlocked
from streams.guards.content import ContentFilter
from streams.stages.stream_guard import HOLD, PLACEHOLDER_MAX, StreamGuard

CODES = ContentFilter({"secret-codes": ("launch codes",)})


def run(guard: StreamGuard, chunks: list[str]) -> str:
    return "".join(guard.feed(c) for c in chunks) + guard.finish()


def test_text_passes_whole_and_in_order_with_the_last_window_held_back() -> None:
    guard = StreamGuard(CODES, block=True, placeholders={})
    text = "word " * 60
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
    released = [guard.feed(c) for c in chunks]
    assert "".join(released) == text[: len(text) - HOLD]
    assert "".join(released) + guard.finish() == text


def test_a_pattern_split_across_chunks_stops_the_stream_once() -> None:
    guard = StreamGuard(CODES, block=True, placeholders={})
    assert guard.feed("x" * 100 + " here are the laun") == "x" * (100 + 18 - HOLD)
    with pytest.raises(GuardrailBlocked) as stopped:
        guard.feed("ch codes: 0000")
    assert stopped.value.category == "secret-codes" and "launch" not in str(stopped.value)
    assert guard.feed("more") == "" and guard.finish() == ""  # nothing after the stop


def test_a_flagging_route_lets_the_stream_through_without_holding_back() -> None:
    guard = StreamGuard(CODES, block=False, placeholders={})
    assert guard.feed("the launch") == "the launch"  # the first tokens go at once
    assert guard.feed(" codes are secret") == " codes are secret" and guard.finish() == ""


def test_placeholders_split_across_chunks_are_restored_whole() -> None:
    guard = StreamGuard(None, block=False, placeholders={"[EMAIL_1]": "ann@example.org"})
    text = "y" * 80 + " write to [EMAIL_1] today " + "z" * 80
    chunks = [text[i : i + 5] for i in range(0, len(text), 5)]
    assert run(guard, chunks) == text.replace("[EMAIL_1]", "ann@example.org")


def test_placeholders_alone_hold_back_only_an_unclosed_placeholder() -> None:
    guard = StreamGuard(None, block=False, placeholders={"[EMAIL_1]": "ann@example.org"})
    assert guard.feed("Hello, write to ") == "Hello, write to "  # nothing to wait for
    assert guard.feed("[EMA") == ""  # may be the start of a placeholder
    assert guard.feed("IL_1] or call") == "ann@example.org or call"
    # a bracket further back than any placeholder is long is only a bracket
    assert guard.feed(" [see " + "x" * PLACEHOLDER_MAX) == " [see " + "x" * PLACEHOLDER_MAX
    assert guard.finish() == ""


def test_reset_forgets_a_failed_attempt() -> None:
    guard = StreamGuard(CODES, block=True, placeholders={})
    assert guard.feed("half of a first attempt") == ""
    guard.reset()
    assert run(guard, ["the second attempt"]) == "the second attempt"
