"""The OpenAI adapter as a pure translator: unified request -> HTTP spec, and response or error body back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.errors import (
    ContextWindowExceeded,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    TurnoutError,
)
from schemas.events import ChatMessage, ChatRequest, ChatResponse, ToolCall, Usage
from streams.providers.base import ProviderEndpoint
from streams.providers.openai import OpenAIAdapter, classify_openai_error

ADAPTER = OpenAIAdapter()
HELLO = [ChatMessage(role="user", content="Hello")]


def _body(request: ChatRequest, **kwargs: Any) -> dict[str, Any]:
    spec = ADAPTER.build_request(
        request, kwargs.get("upstream", "gpt-4o"), ProviderEndpoint("http://up/v1", api_key=kwargs.get("key"))
    )
    data: dict[str, Any] = json.loads(spec.body)
    return data


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        ("http://127.0.0.1:18080/v1", "http://127.0.0.1:18080/v1/chat/completions"),
        ("http://127.0.0.1:18080/v1/", "http://127.0.0.1:18080/v1/chat/completions"),
        ("https://api.openai.com/v1//", "https://api.openai.com/v1/chat/completions"),
        ("http://localhost:11434", "http://localhost:11434/chat/completions"),
    ],
)
def test_url_is_the_base_url_plus_chat_completions(base_url: str, url: str) -> None:
    spec = ADAPTER.build_request(ChatRequest(model="m", messages=HELLO), "gpt-4o", ProviderEndpoint(base_url))
    assert spec.method == "POST"
    assert spec.url == url


@pytest.mark.parametrize(
    ("api_key", "stream", "headers"),
    [
        (None, False, {"content-type": "application/json", "accept": "application/json"}),
        ("", False, {"content-type": "application/json", "accept": "application/json"}),
        (
            "sk-up",
            False,
            {"content-type": "application/json", "accept": "application/json", "authorization": "Bearer sk-up"},
        ),
        (
            "sk-up",
            True,
            {"content-type": "application/json", "accept": "text/event-stream", "authorization": "Bearer sk-up"},
        ),
    ],
)
def test_headers_carry_the_key_only_when_there_is_one(
    api_key: str | None, stream: bool, headers: dict[str, str]
) -> None:
    spec = ADAPTER.build_request(
        ChatRequest(model="m", messages=HELLO, stream=stream), "gpt-4o", ProviderEndpoint("http://up", api_key=api_key)
    )
    assert spec.headers == headers


def test_a_minimal_request_names_the_upstream_model() -> None:
    assert _body(ChatRequest(model="smart-chat", messages=HELLO), upstream="gpt-4o-mini") == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hello"}],
    }


def test_every_mapped_parameter() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    request = ChatRequest(
        model="smart-chat",
        messages=[
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", parts_json='[{"type":"text","text":"Hi"}]', name="alice"),
            ChatMessage(role="assistant", content=None, tool_calls=[ToolCall("call_1", "get_weather", '{"c":1}')]),
            ChatMessage(role="tool", content="-3C", tool_call_id="call_1"),
        ],
        temperature=0.3,
        top_p=0.9,
        max_tokens=200,
        stop=["END"],
        seed=42,
        tools_json=json.dumps(tools),
        tool_choice_json='"required"',
        response_format_json='{"type":"json_object"}',
        user="end-user",
    )
    assert _body(request) == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}], "name": "alice"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"c":1}'}}
                ],
            },
            {"role": "tool", "content": "-3C", "tool_call_id": "call_1"},
        ],
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 200,
        "stop": ["END"],
        "seed": 42,
        "tools": tools,
        "tool_choice": "required",
        "response_format": {"type": "json_object"},
        "user": "end-user",
    }


def test_zero_valued_parameters_are_sent() -> None:
    body = _body(ChatRequest(model="m", messages=HELLO, temperature=0.0, top_p=0.0, seed=0))
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.0, 0.0, 0)


@pytest.mark.parametrize("include_usage", [False, True])
def test_a_stream_always_asks_for_usage(include_usage: bool) -> None:
    body = _body(ChatRequest(model="m", messages=HELLO, stream=True, include_usage=include_usage))
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_extra_json_is_merged_but_cannot_replace_model_or_messages() -> None:
    extra = {"logprobs": True, "presence_penalty": 0.5, "model": "gpt-5-expensive", "messages": []}
    body = _body(ChatRequest(model="smart-chat", messages=HELLO, extra_json=json.dumps(extra)))
    assert body == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hello"}],
        "logprobs": True,
        "presence_penalty": 0.5,
    }


def test_parse_response_reads_content_and_usage() -> None:
    body = {
        "id": "chatcmpl-abc",
        "object": "chat.completion",
        "created": 1_741_569_952,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 12, "audio_tokens": 0},
        },
    }
    assert ADAPTER.parse_response(json.dumps(body).encode(), "gpt-4o") == ChatResponse(
        id="chatcmpl-abc",
        content="Hi!",
        finish_reason="stop",
        usage=Usage(prompt_tokens=19, completion_tokens=10, cached_tokens=12, total_tokens=29),
        upstream_model="gpt-4o-2024-08-06",
        created=1_741_569_952,
    )


def test_parse_response_reads_tool_calls() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time"}},
        ],
    }
    body = {"id": "x", "choices": [{"message": message, "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 5}}
    response = ADAPTER.parse_response(json.dumps(body).encode(), "gpt-4o")
    assert response.content is None
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls == [
        ToolCall("call_1", "get_weather", '{"city":"Oslo"}'),
        ToolCall("call_2", "get_time", ""),
    ]
    assert response.usage == Usage(prompt_tokens=5, total_tokens=5)
    assert response.upstream_model == "gpt-4o"  # no model in the body: the one asked for
    assert response.created == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>Bad Gateway</html>",
        b"{}",
        b'{"choices": []}',
        b'{"choices": null}',
        b"[]",
        b'"text"',
        b'{"choices": [null]}',
        b'{"choices": ["text"]}',
        b'{"choices": [{"message": "text"}]}',
        b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "many"}}',
        b'{"choices": [{"message": {"content": "x", "tool_calls": [{"type": "function"}]}}]}',
    ],
)
def test_a_malformed_response_is_a_provider_error(body: bytes) -> None:
    with pytest.raises(ProviderError, match="cannot read"):
        ADAPTER.parse_response(body, "gpt-4o")


def _error(code: str | None = None, param: str | None = None, message: str = "upstream says no") -> bytes:
    return json.dumps({"error": {"message": message, "type": "some_type", "param": param, "code": code}}).encode()


@pytest.mark.parametrize(
    ("status", "headers", "body", "cls", "retry_after", "message"),
    [
        (429, {"retry-after": "2"}, _error("rate_limit_exceeded"), ProviderRateLimited, 2.0, "upstream says no"),
        (429, {"retry-after": "0.5"}, _error(), ProviderRateLimited, 0.5, "upstream says no"),
        (429, {}, _error(), ProviderRateLimited, None, "upstream says no"),
        (
            429,
            {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"},
            _error(),
            ProviderRateLimited,
            None,
            "upstream says no",
        ),
        (
            401,
            {},
            _error("invalid_api_key"),
            ProviderAuthError,
            None,
            "The provider refused the gateway's credentials.",
        ),
        (403, {}, _error(), ProviderAuthError, None, "The provider refused the gateway's credentials."),
        (400, {}, _error("invalid_value", "temperature"), ProviderBadRequest, None, "upstream says no"),
        (404, {}, _error("model_not_found"), ProviderBadRequest, None, "upstream says no"),
        (422, {}, _error(), ProviderBadRequest, None, "upstream says no"),
        (400, {}, _error("context_length_exceeded", "messages"), ContextWindowExceeded, None, "upstream says no"),
        (503, {"retry-after": "3"}, _error(), ProviderOverloaded, 3.0, "upstream says no"),
        (529, {}, _error(), ProviderOverloaded, None, "upstream says no"),
        (500, {}, _error("server_error"), ProviderError, None, "upstream says no"),
        (502, {}, b"<html>bad gateway</html>", ProviderError, None, "The provider answered HTTP 502."),
        (500, {}, b"", ProviderError, None, "The provider answered HTTP 500."),
        (500, {}, b"[1, 2]", ProviderError, None, "The provider answered HTTP 500."),
        (500, {}, b'{"error": "a string"}', ProviderError, None, "The provider answered HTTP 500."),
        (400, {}, b"not json", ProviderBadRequest, None, "The provider answered HTTP 400."),
    ],
)
def test_classify_openai_error(
    status: int,
    headers: dict[str, str],
    body: bytes,
    cls: type[TurnoutError],
    retry_after: float | None,
    message: str,
) -> None:
    error = ADAPTER.parse_error(status, headers, body)
    assert type(error) is cls
    assert error.retry_after_s == retry_after
    assert error.message == message


@pytest.mark.parametrize(("code", "param"), [("invalid_value", "temperature"), ("context_length_exceeded", "messages")])
def test_classify_keeps_the_providers_param(code: str, param: str) -> None:
    assert classify_openai_error(400, {}, _error(code, param)).param == param
