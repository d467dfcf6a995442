"""``parse_chat_request``: OpenAI request bodies -> ``ChatRequest``, and clear 400s naming the parameter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingress.openai_request import parse_chat_request
from schemas.errors import InvalidRequest
from schemas.events import ChatMessage, ChatRequest, ToolCall

USER = {"role": "user", "content": "Hello"}
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def _body(**overrides: Any) -> dict[str, Any]:
    return {"model": "smart-chat", "messages": [USER], **overrides}


def test_a_minimal_body() -> None:
    assert parse_chat_request(_body()) == ChatRequest(
        model="smart-chat", messages=[ChatMessage(role="user", content="Hello")]
    )


def test_list_of_parts_content_is_kept_as_json() -> None:
    parts = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
    ]
    request = parse_chat_request(_body(messages=[{"role": "user", "content": parts}]))
    message = request.messages[0]
    assert message.content is None
    assert message.parts_json is not None
    assert json.loads(message.parts_json) == parts


def test_a_tool_conversation() -> None:
    messages = [
        {"role": "system", "content": "Use tools."},
        USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {"id": "call_2", "type": "function", "function": {"name": "get_time"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "-3C"},
        {"role": "user", "name": "alice", "content": "thanks"},
    ]
    request = parse_chat_request(_body(messages=messages, tools=[WEATHER_TOOL], tool_choice="auto"))
    assert request.messages == [
        ChatMessage(role="system", content="Use tools."),
        ChatMessage(role="user", content="Hello"),
        ChatMessage(
            role="assistant",
            content=None,
            tool_calls=[
                ToolCall(id="call_1", name="get_weather", arguments='{"city":"Oslo"}'),
                ToolCall(id="call_2", name="get_time", arguments=""),
            ],
        ),
        ChatMessage(role="tool", content="-3C", tool_call_id="call_1"),
        ChatMessage(role="user", content="thanks", name="alice"),
    ]
    assert request.tools_json is not None and json.loads(request.tools_json) == [WEATHER_TOOL]
    assert request.tool_choice_json == '"auto"'


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"stream": True}, "stream", True),
        ({"stream": True, "stream_options": {"include_usage": True}}, "include_usage", True),
        ({"stream": True, "stream_options": None}, "include_usage", False),
        ({"temperature": 0}, "temperature", 0),
        ({"temperature": 1.5}, "temperature", 1.5),
        ({"top_p": 1}, "top_p", 1),
        ({"max_tokens": 64}, "max_tokens", 64),
        ({"max_completion_tokens": 32}, "max_tokens", 32),
        ({"max_tokens": 64, "max_completion_tokens": 32}, "max_tokens", 32),
        ({"stop": "END"}, "stop", ["END"]),
        ({"stop": ["a", "b", "c", "d"]}, "stop", ["a", "b", "c", "d"]),
        ({"stop": None}, "stop", []),
        ({"seed": -5}, "seed", -5),
        ({"user": "end-user-7"}, "user", "end-user-7"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
            "tool_choice_json",
            '{"type":"function","function":{"name":"f"}}',
        ),
        ({"tool_choice": "none"}, "tool_choice_json", '"none"'),
        ({"response_format": {"type": "json_object"}}, "response_format_json", '{"type":"json_object"}'),
        ({"n": 1}, "extra_json", None),
    ],
)
def test_modelled_parameters(overrides: dict[str, Any], field: str, expected: Any) -> None:
    request = parse_chat_request(_body(**overrides))
    assert getattr(request, field) == expected
    assert request.extra_json is None


def test_unknown_parameters_are_passed_through_as_extra_json() -> None:
    extra = {"logprobs": True, "top_logprobs": 3, "presence_penalty": 0.5, "metadata": {"a": "b"}, "store": False}
    request = parse_chat_request(_body(temperature=0.2, n=1, stream_options={"include_usage": True}, **extra))
    assert request.extra_json is not None
    assert json.loads(request.extra_json) == extra
    assert request.temperature == 0.2


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([{"model": "m"}], None),
        ("a string", None),
        (None, None),
        ({"messages": [USER]}, "model"),
        (_body(model=""), "model"),
        (_body(model=7), "model"),
        (_body(messages=[]), "messages"),
        (_body(messages=None), "messages"),
        (_body(messages="hi"), "messages"),
        (_body(messages=[USER, "hi"]), "messages[1]"),
        (_body(messages=[{"role": "robot", "content": "x"}]), "messages[0].role"),
        (_body(messages=[{"content": "x"}]), "messages[0].role"),
        (_body(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
        (_body(messages=[{"role": "assistant", "tool_calls": {"id": "x"}}]), "messages[0].tool_calls"),
        (
            _body(messages=[USER, {"role": "assistant", "tool_calls": [{"id": "x", "function": {}}]}]),
            "messages[1].tool_calls[0]",
        ),
        (_body(stream="true"), "stream"),
        (_body(stream=1), "stream"),
        (_body(stream_options="yes"), "stream_options"),
        (_body(temperature=3), "temperature"),
        (_body(temperature=-0.1), "temperature"),
        (_body(temperature="hot"), "temperature"),
        (_body(temperature=True), "temperature"),
        (_body(top_p=-1), "top_p"),
        (_body(top_p=1.01), "top_p"),
        (_body(max_tokens=0), "max_tokens"),
        (_body(max_tokens=1.5), "max_tokens"),
        (_body(max_completion_tokens=-1), "max_completion_tokens"),
        (_body(n=2), "n"),
        (_body(n=0), "n"),
        (_body(stop=["a", "b", "c", "d", "e"]), "stop"),
        (_body(stop=[1]), "stop"),
        (_body(stop=5), "stop"),
        (_body(seed=0.5), "seed"),
        (_body(tools=[{"type": "function", "function": {}}]), "tools"),
        (_body(tools=[{"type": "function"}]), "tools"),
        (_body(tools=["get_weather"]), "tools"),
        (_body(tools={"type": "function"}), "tools"),
        (_body(tool_choice=3), "tool_choice"),
        (_body(response_format="json"), "response_format"),
    ],
)
def test_invalid_bodies_name_the_parameter(body: Any, param: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_chat_request(body)
    error = caught.value
    assert error.param == param
    assert error.status == 400
    assert error.to_openai()["error"] == {
        "message": error.message,
        "type": "invalid_request_error",
        "param": param,
        "code": None,
    }
    if param is not None:
        assert f"'{param.split('[')[0]}" in error.message
