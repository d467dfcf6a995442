"""The OpenAI adapter against what the reference client and OpenAI-compatible servers send.

Retry hints as the ``openai`` SDK reads them, error bodies of vLLM and llama.cpp, the message table
(one test per row), a stream's ``"error": null`` field, and a stream without a usage chunk.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.errors import (
    ContextWindowExceeded,
    ProviderBadRequest,
    ProviderContentPolicy,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    TurnoutError,
)
from schemas.events import Usage
from streams.providers.accumulate import StreamAccumulator
from streams.providers.openai import _MESSAGE_RULES, OpenAIStreamParser, classify_openai_error


def _body(message: str, code: str | int | None = None, type_: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


@pytest.mark.parametrize(
    ("status", "headers", "seconds"),
    [
        (429, {"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
        (429, {"retry-after-ms": "250"}, 0.25),
        (429, {"retry-after": "7"}, 7.0),
        (429, {"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
        (429, {"retry-after-ms": "-5", "retry-after": "3"}, 3.0),
        (429, {"retry-after-ms": "inf"}, None),
        (429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        (503, {"retry-after-ms": "4000"}, 4.0),
    ],
)
def test_retry_hints_are_read_like_the_openai_sdk(status: int, headers: dict[str, str], seconds: float | None) -> None:
    error = classify_openai_error(status, headers, _body("slow down"))
    assert isinstance(error, ProviderRateLimited | ProviderOverloaded)
    assert error.retry_after_s == seconds


# one example per row of the message table, in the table's order
MESSAGE_TABLE_EXAMPLES: list[tuple[str, type[TurnoutError]]] = [
    (
        "This model's maximum context length is 4096 tokens. However, you requested 5120 tokens "
        "(4096 in the messages, 1024 in the completion). Please reduce the length of the messages or completion.",
        ContextWindowExceeded,
    ),
    (
        "Invalid prompt: your prompt was flagged as potentially violating our usage policy. "
        "Please try again with a different prompt.",
        ProviderContentPolicy,
    ),
]


def test_every_message_rule_has_an_example() -> None:
    assert len(MESSAGE_TABLE_EXAMPLES) == len(_MESSAGE_RULES)
    for (pattern, cls), (message, expected) in zip(_MESSAGE_RULES, MESSAGE_TABLE_EXAMPLES, strict=True):
        assert pattern.search(message) and cls is expected


@pytest.mark.parametrize(("message", "cls"), MESSAGE_TABLE_EXAMPLES)
@pytest.mark.parametrize("status", [400, 422])
def test_message_rules_classify_400s(message: str, cls: type[TurnoutError], status: int) -> None:
    error = classify_openai_error(status, {}, _body(message, code=status))
    assert type(error) is cls
    assert error.message == message
    assert error.upstream_status == status


@pytest.mark.parametrize(("message", "cls"), MESSAGE_TABLE_EXAMPLES)
def test_message_rules_do_not_apply_to_server_errors(message: str, cls: type[TurnoutError]) -> None:
    assert type(classify_openai_error(500, {}, _body(message, type_="server_error"))) is ProviderError


@pytest.mark.parametrize(
    "message",
    [
        "max_tokens is too large: 20000. This model supports at most 16384 completion tokens.",
        "Invalid prompt: the schema is not valid JSON Schema.",
    ],
)
def test_other_400s_stay_bad_requests(message: str) -> None:
    assert type(classify_openai_error(400, {}, _body(message, code="invalid_prompt"))) is ProviderBadRequest


def test_vllm_top_level_error_fields_are_read() -> None:
    body = {
        "object": "error",
        "message": "[{'type': 'missing', 'loc': ('body', 'messages')}]",
        "type": "BadRequestError",
    }
    error = classify_openai_error(400, {}, json.dumps({**body, "param": "messages", "code": 400}).encode())
    assert type(error) is ProviderBadRequest
    assert error.message == body["message"]
    assert error.param == "messages"


@pytest.mark.parametrize(
    "body",
    [
        {"message": "not an error object", "type": "x"},  # no "object": "error": not read as one
        {"error": None, "message": "x"},
        {"error": "a string"},
    ],
)
def test_other_top_level_shapes_give_the_status_message(body: dict[str, Any]) -> None:
    assert classify_openai_error(502, {}, json.dumps(body).encode()).message == "The provider answered HTTP 502."


@pytest.mark.parametrize("field", [["a", "list"], {"an": "object"}, 7])
def test_odd_error_field_types_are_not_a_crash(field: Any) -> None:
    body = {"error": {"message": field, "type": field, "code": field, "param": field}}
    error = classify_openai_error(400, {}, json.dumps(body).encode())
    assert type(error) is ProviderBadRequest
    assert error.param is None


def test_llamacpp_exceed_context_size_type() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "request (9412 tokens) exceeds the available context size (8192 tokens), try increasing it",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 9412,
            "n_ctx": 8192,
        }
    }
    error = classify_openai_error(400, {}, json.dumps(body).encode())
    assert type(error) is ContextWindowExceeded
    assert error.param is None  # a numeric or missing param is not passed on


def _parse(stream: bytes) -> StreamAccumulator:
    parser, whole = OpenAIStreamParser(), StreamAccumulator()
    for delta in parser.feed(stream):
        whole.add(delta)
    parser.close()
    return whole


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def test_a_null_error_field_in_a_chunk_is_not_an_error() -> None:
    chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}], "error": None}
    whole = _parse(_event(chunk) + b"data: [DONE]\n\n")
    assert whole.response("m", created=0).content == "hi"


def test_an_empty_error_object_in_a_chunk_is_not_an_error() -> None:
    chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}], "error": {}}
    assert _parse(_event(chunk) + b"data: [DONE]\n\n").response("m", created=0).content == "hi"


def test_a_stream_without_a_usage_chunk_has_zero_usage() -> None:
    chunks = [
        {
            "id": "c2",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello"}, "finish_reason": None}],
        },
        {"id": "c2", "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]},
    ]
    response = _parse(b"".join(_event(c) for c in chunks) + b"data: [DONE]\n\n").response("llama3.2", created=0)
    assert (response.content, response.finish_reason, response.usage) == ("Hello", "stop", Usage())


def test_a_usage_only_chunk_with_null_choices_is_read() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    whole = _parse(_event({"id": "c3", "choices": None, "usage": usage}) + b"data: [DONE]\n\n")
    assert whole.response("m", created=0).usage == Usage(prompt_tokens=5, completion_tokens=2, total_tokens=7)
