"""``AnthropicAdapter``: the request translation, reply reading and error classification the golden
fixtures do not pin down, one table per concern."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import orjson
import pytest

from ingress.openai_request import parse_chat_request
from schemas.errors import (
    ContextWindowExceeded,
    InvalidRequest,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderContentPolicy,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderTimeout,
    TurnoutError,
)
from schemas.events import EmbeddingsRequest
from streams.providers.anthropic import (
    DEFAULT_MAX_TOKENS,
    JSON_OBJECT_INSTRUCTION,
    JSON_TOOL_NAME,
    AnthropicAdapter,
)
from streams.providers.anthropic_errors import MESSAGE_RULES
from streams.providers.base import ProviderEndpoint

ADAPTER = AnthropicAdapter()
ENDPOINT = ProviderEndpoint(base_url="https://api.anthropic.test/", api_key="sk-ant")
USER = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}


def body_for(request: dict[str, Any], endpoint: ProviderEndpoint = ENDPOINT) -> dict[str, Any]:
    spec = ADAPTER.build_request(parse_chat_request({"model": "m", **request}), "claude-x", endpoint)
    data: dict[str, Any] = orjson.loads(spec.body)
    return data


def test_url_headers_and_defaults() -> None:
    spec = ADAPTER.build_request(parse_chat_request({"model": "m", "messages": USER}), "claude-x", ENDPOINT)
    assert spec.method == "POST"
    assert spec.url == "https://api.anthropic.test/v1/messages"
    assert spec.headers["x-api-key"] == "sk-ant"
    assert spec.headers["anthropic-version"] == "2023-06-01"
    assert spec.headers["accept"] == "application/json"
    assert orjson.loads(spec.body) == {"model": "claude-x", "max_tokens": DEFAULT_MAX_TOKENS, "messages": USER}


def test_api_version_and_missing_key() -> None:
    endpoint = ProviderEndpoint(base_url="http://sim", api_version="2024-01-01")
    spec = ADAPTER.build_request(parse_chat_request({"model": "m", "messages": USER}), "claude-x", endpoint)
    assert spec.headers["anthropic-version"] == "2024-01-01"
    assert "x-api-key" not in spec.headers


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "lookup"}}, {"type": "tool", "name": "lookup"}),
    ],
)
def test_tool_choice_table(choice: Any, expected: dict[str, Any]) -> None:
    assert body_for({"messages": USER, "tools": [TOOL], "tool_choice": choice})["tool_choice"] == expected


def test_unknown_tool_choice_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        body_for({"messages": USER, "tools": [TOOL], "tool_choice": {"type": "allowed_tools"}})


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", {"type": "any", "disable_parallel_tool_use": True}),
        ("none", {"type": "none"}),
    ],
)
def test_parallel_tool_calls_false(choice: Any, expected: dict[str, Any]) -> None:
    request: dict[str, Any] = {"messages": USER, "tools": [TOOL], "parallel_tool_calls": False}
    if choice is not None:
        request["tool_choice"] = choice
    assert body_for(request)["tool_choice"] == expected


def test_tool_choice_without_tools_is_not_sent() -> None:
    assert "tool_choice" not in body_for({"messages": USER, "tool_choice": "none"})


@pytest.mark.parametrize(
    ("choice", "tool_names", "expected"),
    [
        (None, ["lookup", JSON_TOOL_NAME], {"type": "any"}),
        ("required", ["lookup", JSON_TOOL_NAME], {"type": "any"}),
        (
            {"type": "function", "function": {"name": "lookup"}},
            ["lookup", JSON_TOOL_NAME],
            {"type": "tool", "name": "lookup"},
        ),
        ("none", [JSON_TOOL_NAME], {"type": "tool", "name": JSON_TOOL_NAME}),
    ],
)
def test_json_schema_with_the_callers_tools(choice: Any, tool_names: list[str], expected: dict[str, Any]) -> None:
    request: dict[str, Any] = {"messages": USER, "tools": [TOOL], "response_format": SCHEMA}
    if choice is not None:
        request["tool_choice"] = choice
    body = body_for(request)
    assert [t["name"] for t in body["tools"]] == tool_names
    assert body["tool_choice"] == expected


def test_json_schema_needs_a_schema() -> None:
    with pytest.raises(InvalidRequest):
        body_for({"messages": USER, "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}})


def test_json_object_without_a_system_message() -> None:
    assert body_for({"messages": USER, "response_format": {"type": "json_object"}})["system"] == JSON_OBJECT_INSTRUCTION


def test_text_response_format_changes_nothing() -> None:
    assert body_for({"messages": USER, "response_format": {"type": "text"}}) == body_for({"messages": USER})


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2023-06-01", {"temperature": 0.5, "top_p": 0.9, "top_k": 40}),
        ("2026-10-21", {}),
        ("2027-01-01", {}),
    ],
)
def test_sampling_parameters_by_api_version(version: str, expected: dict[str, Any]) -> None:
    endpoint = ProviderEndpoint(base_url="http://sim", api_key="k", api_version=version)
    body = body_for({"messages": USER, "temperature": 0.5, "top_p": 0.9, "top_k": 40}, endpoint)
    assert {k: body[k] for k in ("temperature", "top_p", "top_k") if k in body} == expected


def test_passthrough_and_dropped_parameters() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    body = body_for(
        {"messages": USER, "thinking": thinking, "seed": 7, "frequency_penalty": 0.5, "logprobs": True, "n": 1}
    )
    assert body["thinking"] == thinking
    assert not {"seed", "frequency_penalty", "logprobs", "n"} & set(body)


def test_system_messages_anywhere_are_hoisted_in_order() -> None:
    body = body_for(
        {
            "messages": [
                {"role": "system", "content": "first"},
                {"role": "user", "content": "hi"},
                {"role": "developer", "content": "second"},
                {"role": "system", "content": ""},
            ]
        }
    )
    assert body["system"] == "first\n\nsecond"
    assert body["messages"] == USER


def test_assistant_text_and_tool_calls_and_empty_arguments() -> None:
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "lookup", "arguments": ""}}],
        },
        {"role": "tool", "tool_call_id": "t1", "content": ""},
        {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "part one"}]},
        {"role": "user", "content": "and now?"},
    ]
    body = body_for({"messages": messages})
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1"},
                {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "part one"}]},
                {"type": "text", "text": "and now?"},
            ],
        },
    ]


def test_empty_messages_are_left_out() -> None:
    messages = [*USER, {"role": "assistant", "content": ""}, {"role": "user", "content": "still there?"}]
    body = body_for({"messages": messages})
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "still there?"}]}
    ]


@pytest.mark.parametrize("arguments", ['{"q": ', "[1, 2]"])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    call = {"id": "t1", "type": "function", "function": {"name": "lookup", "arguments": arguments}}
    with pytest.raises(InvalidRequest) as caught:
        body_for({"messages": [*USER, {"role": "assistant", "content": None, "tool_calls": [call]}]})
    assert caught.value.param == "messages[1].tool_calls[0]"


def test_tool_result_needs_its_call_id() -> None:
    with pytest.raises(InvalidRequest):
        body_for({"messages": [*USER, {"role": "tool", "content": "orphan"}]})


def test_pdf_file_part_is_a_document() -> None:
    part = {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}
    body = body_for({"messages": [{"role": "user", "content": [part]}]})
    source = {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}
    assert body["messages"][0]["content"] == [{"type": "document", "source": source}]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.png"}},
        {"type": "file", "file": {"file_data": "data:text/plain;base64,aGk="}},
    ],
)
def test_parts_anthropic_cannot_take_are_refused(part: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        body_for({"messages": [{"role": "user", "content": [part]}]})


def test_function_role_and_non_function_tools_are_refused() -> None:
    with pytest.raises(InvalidRequest):
        body_for({"messages": [*USER, {"role": "function", "name": "f", "content": "x"}]})
    tools = [{"type": "function", "function": {"name": "ok"}}, {"type": "custom", "custom": {"name": "grammar"}}]
    request = replace(parse_chat_request({"model": "m", "messages": USER}), tools_json=json.dumps(tools))
    with pytest.raises(InvalidRequest) as caught:
        ADAPTER.build_request(request, "claude-x", ENDPOINT)
    assert caught.value.param == "tools[1]"


def test_embeddings_are_not_offered() -> None:
    assert "embeddings" not in ADAPTER.capabilities
    with pytest.raises(InvalidRequest):
        ADAPTER.build_embeddings_request(EmbeddingsRequest(model="m", inputs=["x"]), "claude-x", ENDPOINT)
    with pytest.raises(InvalidRequest):
        ADAPTER.parse_embeddings_response(b"{}", "claude-x")


# ------------------------------------------------------------------ replies


def message(content: list[dict[str, Any]], stop_reason: str | None, **extra: Any) -> bytes:
    usage = {"input_tokens": 3, "output_tokens": 2}
    data = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": content}
    return json.dumps({**data, "stop_reason": stop_reason, "usage": usage, **extra}).encode()


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
        (None, "stop"),
    ],
)
def test_stop_reasons(stop_reason: str | None, finish: str) -> None:
    reply = ADAPTER.parse_response(message([{"type": "text", "text": "x"}], stop_reason), "claude-x")
    assert reply.finish_reason == finish


def test_thinking_and_server_blocks_are_left_out() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "xyz"},
        {"type": "text", "text": "Four."},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
    ]
    reply = ADAPTER.parse_response(message(blocks, "end_turn"), "claude-x")
    assert (reply.content, reply.tool_calls, reply.upstream_model) == ("Four.", [], "claude-x")
    assert reply.usage.total_tokens == 5


def test_tool_calls_only_means_no_content() -> None:
    blocks = [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}]
    reply = ADAPTER.parse_response(message(blocks, "tool_use"), "claude-x")
    assert reply.content is None
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [("toolu_1", "lookup", '{"q":"x"}')]
    assert reply.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"content": [{"type": "text"}]}', b'{"content": [{"type": "tool_use"}]}']
)
def test_unreadable_replies_are_provider_errors(body: bytes) -> None:
    with pytest.raises(ProviderError):
        ADAPTER.parse_response(body, "claude-x")


# ------------------------------------------------------------------ errors


def error(status: int, err: dict[str, Any] | None, headers: dict[str, str] | None = None) -> TurnoutError:
    body = json.dumps({"type": "error", "error": err, "request_id": "req_1"}).encode() if err is not None else b""
    return ADAPTER.parse_error(status, headers or {}, body)


@pytest.mark.parametrize(
    ("message", "cls"),
    [
        ("prompt is too long: 201234 tokens > 200000 maximum", ContextWindowExceeded),
        (
            "input length and `max_tokens` exceed context limit: 199759 + 8192 > 200000, "
            "decrease input length or `max_tokens` and try again",
            ContextWindowExceeded,
        ),
        ("Output blocked by content filtering policy", ProviderContentPolicy),
    ],
    ids=["prompt_too_long", "input_plus_max_tokens", "content_filtering"],
)
def test_each_message_rule(message: str, cls: type[TurnoutError]) -> None:
    assert len(MESSAGE_RULES) == 3  # one test case per row
    classified = error(400, {"type": "invalid_request_error", "message": message})
    assert type(classified) is cls
    assert classified.message == message
    assert classified.upstream_status == 400


def test_message_rules_apply_only_to_invalid_request_errors() -> None:
    assert type(error(500, {"type": "api_error", "message": "prompt is too long"})) is ProviderError


@pytest.mark.parametrize(
    ("status", "err_type", "cls"),
    [
        (400, "invalid_request_error", ProviderBadRequest),
        (401, "authentication_error", ProviderAuthError),
        (402, "billing_error", ProviderAuthError),
        (403, "permission_error", ProviderAuthError),
        (404, "not_found_error", ProviderBadRequest),
        (413, "request_too_large", ProviderBadRequest),
        (429, "rate_limit_error", ProviderRateLimited),
        (500, "api_error", ProviderError),
        (504, "timeout_error", ProviderTimeout),
        (529, "overloaded_error", ProviderOverloaded),
    ],
)
def test_error_types(status: int, err_type: str, cls: type[TurnoutError]) -> None:
    classified = error(status, {"type": err_type, "message": "m"})
    assert type(classified) is cls
    assert classified.upstream_status == status


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ProviderBadRequest),
        (401, ProviderAuthError),
        (429, ProviderRateLimited),
        (502, ProviderError),
        (503, ProviderOverloaded),
        (529, ProviderOverloaded),
        (504, ProviderTimeout),
    ],
)
def test_bodies_without_an_anthropic_error_fall_back_to_the_status(status: int, cls: type[TurnoutError]) -> None:
    classified = ADAPTER.parse_error(status, {}, b"<html>Bad Gateway</html>")
    assert type(classified) is cls
    assert classified.upstream_status == status


def test_retry_after_on_overloaded_and_a_bad_header() -> None:
    assert error(529, {"type": "overloaded_error", "message": "Overloaded"}, {"retry-after": "5"}).retry_after_s == 5.0
    assert error(429, {"type": "rate_limit_error", "message": "m"}, {"retry-after": "soon"}).retry_after_s is None


def test_spend_limit_codes_are_not_retried() -> None:
    for code in ("enforced_spend_limit_reached", "contract_spend_limit_reached"):
        err = {"type": "rate_limit_error", "message": "limit", "details": {"error_code": code}}
        classified = error(429, err, {"retry-after": "60"})
        assert type(classified) is ProviderAuthError
        assert not classified.retriable


def test_auth_errors_do_not_echo_the_message() -> None:
    classified = error(401, {"type": "authentication_error", "message": "invalid x-api-key sk-ant-abc"})
    assert "sk-ant" not in classified.message
