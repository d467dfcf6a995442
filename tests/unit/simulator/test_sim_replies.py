"""Deterministic replies and token counting."""

from __future__ import annotations

import math

import orjson
import pytest

from simulator.knobs import Knobs
from simulator.replies import (
    ReplyRequest,
    build_reply,
    count_words,
    default_reply_text,
    prompt_tokens,
    split_even,
    split_text,
    tool_call_tokens,
    truncate_words,
)


def request(**overrides: object) -> ReplyRequest:
    base: dict[str, object] = {
        "model": "m",
        "last_user_text": "alpha beta gamma",
        "message_texts": ["be brief", "alpha beta gamma"],
    }
    return ReplyRequest(**(base | overrides))  # type: ignore[arg-type]


def test_default_reply_echoes_last_user_words() -> None:
    assert default_reply_text("m", "  alpha\n beta  ") == "Simulated reply from m: alpha beta"


def test_default_reply_is_capped_at_64_words() -> None:
    text = default_reply_text("m", " ".join(f"w{i}" for i in range(200)))
    assert count_words(text) == 64
    assert text.startswith("Simulated reply from m: w0 w1")


def test_prompt_tokens_formula() -> None:
    texts = ["", "abcd", "abcde"]
    assert prompt_tokens(texts) == (4 + 0) + (4 + 1) + (4 + 2)


def test_build_reply_counts_tokens() -> None:
    reply = build_reply(request(), Knobs())
    assert reply.content == "Simulated reply from m: alpha beta gamma"
    assert reply.finish_reason == "stop"
    assert reply.prompt_tokens == 4 + math.ceil(8 / 4) + 4 + math.ceil(16 / 4)
    assert reply.completion_tokens == 7
    assert reply.total_tokens == reply.prompt_tokens + 7


def test_max_words_truncates_with_length_finish() -> None:
    reply = build_reply(request(max_words=2), Knobs())
    assert reply.content == "Simulated reply"
    assert reply.finish_reason == "length"
    assert build_reply(request(max_words=100), Knobs()).finish_reason == "stop"


def test_json_mode_wraps_reply() -> None:
    reply = build_reply(request(json_mode=True), Knobs(reply="fixed text"))
    assert reply.content is not None
    assert orjson.loads(reply.content) == {"reply": "fixed text"}
    assert reply.completion_tokens == count_words(reply.content)


def test_tool_call_reply() -> None:
    reply = build_reply(request(tool_name="lookup"), Knobs(tool_arguments='{"q": "abc"}'))
    assert reply.content is None
    assert reply.tool_call is not None
    assert reply.tool_call.id.startswith("call_")
    assert (reply.tool_call.name, reply.tool_call.arguments) == ("lookup", '{"q": "abc"}')
    assert reply.finish_reason == "tool_calls"
    assert reply.completion_tokens == tool_call_tokens('{"q": "abc"}') == 10 + 3


def test_token_overrides() -> None:
    reply = build_reply(request(), Knobs(prompt_tokens=1, completion_tokens=2))
    assert (reply.prompt_tokens, reply.completion_tokens) == (1, 2)


def test_truncate_words() -> None:
    assert truncate_words("a b c", 2) == ("a b", True)
    assert truncate_words("a b", 2) == ("a b", False)


@pytest.mark.parametrize("text", ["", "one", "  lead and trail  ", "a b c d e f g h", "x\ny\tz"])
def test_split_text_reassembles(text: str) -> None:
    pieces = split_text(text, 3)
    assert "".join(pieces) == text
    assert all(count_words(piece) <= 3 for piece in pieces)


def test_split_text_makes_several_pieces() -> None:
    assert split_text("a b c d e f g", 3) == ["a b c ", "d e f ", "g"]


def test_split_even() -> None:
    assert split_even("abcdefg", 3) == ["abc", "def", "g"]
    assert split_even("", 3) == []
