"""``simulator.anthropic_wire.parse_messages_request``: what the Messages API refuses, and the reply
request drawn from what it accepts."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from simulator.anthropic_wire import WireError, parse_messages_request
from simulator.replies import prompt_tokens

VERSION = "2023-06-01"
USER = [{"role": "user", "content": "tell me a joke"}]


def parse(body: dict[str, Any], version: str = VERSION) -> Any:
    return parse_messages_request(orjson.dumps(body), version)


def base(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 100, "messages": USER, **extra}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_tokens": 10, "messages": USER}, "model"),
        ({"model": "claude-x", "messages": USER}, "max_tokens"),
        (base(max_tokens=-1), "max_tokens"),
        (base(max_tokens="ten"), "max_tokens"),
        (base(messages=[]), "messages"),
        (base(messages=[{"role": "tool", "content": "x"}]), "messages.0.role"),
        (base(messages=[{"role": "user", "content": 5}]), "messages.0.content"),
        (base(messages=[{"role": "user", "content": [{"text": "no type"}]}]), "messages.0.content.0.type"),
        (base(system=[{"type": "image"}]), "system"),
        (base(stream="yes"), "stream"),
        (base(stop_sequences="END"), "stop_sequences"),
        (base(tools=[{"description": "no name"}]), "tools"),
        (base(tools=[{"name": "a"}], tool_choice={"type": "required"}), "tool_choice"),
        (base(tools=[{"name": "a"}], tool_choice={"type": "tool"}), "tool_choice.name"),
    ],
)
def test_invalid_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(WireError) as caught:
        parse(body)
    assert caught.value.message.startswith(f"{field}:")
    assert (caught.value.status, caught.value.type) == (400, "invalid_request_error")


def test_malformed_json_and_non_object_bodies() -> None:
    for raw in (b"{", b"[1]"):
        with pytest.raises(WireError):
            parse_messages_request(raw, VERSION)


@pytest.mark.parametrize("name", ["temperature", "top_p", "top_k"])
def test_sampling_parameters_are_refused_from_2026_10_21(name: str) -> None:
    assert parse(base(**{name: 0.5})).model == "claude-x"
    with pytest.raises(WireError) as caught:
        parse(base(**{name: 0.5}), "2026-10-21")
    assert caught.value.message.startswith(f"{name}:")


def test_mid_conversation_system_messages_are_prompt_text() -> None:
    messages = [*USER, {"role": "system", "content": [{"type": "text", "text": "Now be formal."}]}]
    chat = parse(base(messages=messages))
    assert chat.reply.message_texts == ["tell me a joke", "Now be formal."]
    assert chat.reply.last_user_text == "tell me a joke"


def test_max_tokens_zero_is_allowed() -> None:
    assert parse(base(max_tokens=0)).reply.max_words == 0


def test_reply_request_from_a_conversation() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "weather in Oslo?"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "Oslo"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "cold"}]},
    ]
    chat = parse(base(system=[{"type": "text", "text": "Be brief."}], messages=messages, tools=[{"name": "lookup"}]))
    assert chat.reply.last_user_text == "weather in Oslo?"
    assert chat.reply.tool_name is None  # the last turn carries tool results
    assert chat.reply.message_texts == ["Be brief.", "weather in Oslo?", 'lookup {"q":"Oslo"}', "cold"]
    assert prompt_tokens(chat.reply.message_texts) > 0


@pytest.mark.parametrize(
    ("choice", "tool"),
    [
        (None, "first"),
        ({"type": "auto"}, "first"),
        ({"type": "any"}, "first"),
        ({"type": "tool", "name": "second"}, "second"),
        ({"type": "none"}, None),
    ],
)
def test_which_tool_is_called(choice: dict[str, Any] | None, tool: str | None) -> None:
    body = base(tools=[{"name": "first"}, {"name": "second"}])
    if choice is not None:
        body["tool_choice"] = choice
    assert parse(body).reply.tool_name == tool


def test_json_mode_stream_and_stop_sequences() -> None:
    chat = parse(
        base(output_config={"format": {"type": "json_schema", "schema": {}}}, stream=True, stop_sequences=["x"])
    )
    assert (chat.reply.json_mode, chat.stream, chat.stop_sequences) == (True, True, ("x",))
    assert parse(base(output_format={"type": "json_schema", "schema": {}})).reply.json_mode
    assert not parse(base()).reply.json_mode
