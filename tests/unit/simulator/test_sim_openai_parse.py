"""Parsing and validating OpenAI chat-completions requests."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from simulator.openai_wire import WireError, message_text, parse_chat_request

USER = {"role": "user", "content": "hello world"}
TOOLS = [
    {"type": "function", "function": {"name": "first"}},
    {"type": "function", "function": {"name": "second"}},
]


def parse(**body: Any) -> Any:
    return parse_chat_request(orjson.dumps({"model": "m", "messages": [USER], **body}))


def test_minimal_request() -> None:
    chat = parse()
    assert (chat.model, chat.stream, chat.include_usage) == ("m", False, False)
    assert chat.reply.last_user_text == "hello world"
    assert chat.reply.message_texts == ["hello world"]
    assert chat.reply.tool_name is None and chat.reply.max_words is None


def test_stream_options() -> None:
    chat = parse(stream=True, stream_options={"include_usage": True})
    assert (chat.stream, chat.include_usage) == (True, True)


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"{not json", None),
        (b"[]", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "m"}', "messages"),
        (b'{"model": "m", "messages": []}', "messages"),
        (b'{"model": "m", "messages": [{"content": "x"}]}', "messages[0]"),
    ],
)
def test_invalid_bodies(raw: bytes, param: str | None) -> None:
    with pytest.raises(WireError) as caught:
        parse_chat_request(raw)
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"n": 2}, "n"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": "3"}, "max_completion_tokens"),
        ({"tools": {}}, "tools"),
        ({"response_format": "json"}, "response_format"),
    ],
)
def test_invalid_parameters(body: dict[str, Any], param: str) -> None:
    with pytest.raises(WireError) as caught:
        parse(**body)
    assert caught.value.param == param


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert parse(max_tokens=9, max_completion_tokens=4).reply.max_words == 4
    assert parse(max_tokens=9).reply.max_words == 9
    assert parse(n=1).reply.max_words is None


def test_json_mode() -> None:
    assert parse(response_format={"type": "json_object"}).reply.json_mode
    assert parse(response_format={"type": "json_schema", "json_schema": {}}).reply.json_mode
    assert not parse(response_format={"type": "text"}).reply.json_mode


def test_tool_selection() -> None:
    assert parse(tools=TOOLS).reply.tool_name == "first"
    assert parse(tools=TOOLS, tool_choice="auto").reply.tool_name == "first"
    named = {"type": "function", "function": {"name": "second"}}
    assert parse(tools=TOOLS, tool_choice=named).reply.tool_name == "second"
    assert parse(tools=TOOLS, tool_choice="none").reply.tool_name is None
    assert parse(tools=[]).reply.tool_name is None


def test_no_tool_call_after_a_tool_result() -> None:
    messages = [USER, {"role": "tool", "tool_call_id": "call_1", "content": "42"}]
    chat = parse_chat_request(orjson.dumps({"model": "m", "messages": messages, "tools": TOOLS}))
    assert chat.reply.tool_name is None
    assert chat.reply.last_user_text == "hello world"


def test_message_text() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "b"}]
    assert message_text({"role": "user", "content": parts}) == "a b"
    assert message_text({"role": "assistant", "content": None}) == ""
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert message_text({"role": "assistant", "content": "x", "tool_calls": [call]}) == "x f {}"
