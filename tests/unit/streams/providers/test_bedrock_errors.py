"""Bedrock error classification: every error type, every row of the message table, the fallbacks."""

from __future__ import annotations

import orjson
import pytest

from schemas.errors import (
    ContextWindowExceeded,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderContentPolicy,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderTimeout,
    TurnoutError,
)
from streams.providers.bedrock_errors import (
    ERROR_TYPES,
    VALIDATION_MESSAGES,
    classify_bedrock_error,
    error_type_name,
)


def classify(status: int, error_type: str | None, message: str = "m", **headers: str) -> TurnoutError:
    if error_type is not None:
        headers["x-amzn-errortype"] = f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    return classify_bedrock_error(status, headers, orjson.dumps({"message": message}))


@pytest.mark.parametrize(("error_type", "cls"), sorted(ERROR_TYPES.items()))
def test_every_error_type(error_type: str, cls: type[TurnoutError]) -> None:
    error = classify(400, error_type, "nothing special")
    assert type(error) is cls
    assert error.upstream_status == 400


# one example per row of VALIDATION_MESSAGES, in the same order
TABLE_EXAMPLES = [
    ("Input is too long for requested model.", ContextWindowExceeded),
    (
        "The model returned the following errors: prompt is too long: 200049 tokens > 200000 maximum",
        ContextWindowExceeded,
    ),
    (
        "The model returned the following errors: input length and `max_tokens` exceed context limit: "
        "94607 + 112147 > 204648, decrease input length or `max_tokens` and try again",
        ContextWindowExceeded,
    ),
    (
        "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens.",
        ContextWindowExceeded,
    ),
    ("The model returned the following errors: Output blocked by content filtering policy", ProviderContentPolicy),
    ("This request has been blocked by our content filters.", ProviderContentPolicy),
    ("One or more prompts contains filtered words.", ProviderContentPolicy),
]


def test_the_table_has_an_example_per_row() -> None:
    assert len(TABLE_EXAMPLES) == len(VALIDATION_MESSAGES)
    for (message, _), (pattern, _) in zip(TABLE_EXAMPLES, VALIDATION_MESSAGES, strict=True):
        assert pattern.search(message), message


@pytest.mark.parametrize(("message", "cls"), TABLE_EXAMPLES)
def test_validation_message_table(message: str, cls: type[TurnoutError]) -> None:
    assert type(classify(400, "ValidationException", message)) is cls
    assert type(classify(400, None, message)) is cls  # a 400 that lost its type header


def test_messages_only_matter_for_validation_errors() -> None:
    assert type(classify(500, "InternalServerException", "Input is too long for requested model.")) is ProviderError
    assert type(classify(400, "ValidationException", "Malformed input request")) is ProviderBadRequest


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ProviderBadRequest),
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (404, ProviderBadRequest),
        (408, ProviderTimeout),
        (429, ProviderRateLimited),
        (500, ProviderError),
        (502, ProviderError),
        (503, ProviderOverloaded),
        (529, ProviderOverloaded),
    ],
)
def test_status_decides_without_a_type(status: int, cls: type[TurnoutError]) -> None:
    assert type(classify(status, None)) is cls


def test_type_in_the_body_and_odd_bodies() -> None:
    body = orjson.dumps({"__type": "com.amazon.coral.service#UnrecognizedClientException", "Message": "bad token"})
    assert type(classify_bedrock_error(403, {}, body)) is ProviderAuthError
    error = classify_bedrock_error(502, {}, b"<html>Bad Gateway</html>")
    assert type(error) is ProviderError and "502" in error.message
    assert type(classify_bedrock_error(429, {"X-Amzn-ErrorType": "ThrottlingException"}, b"[]")) is ProviderRateLimited


def test_auth_errors_do_not_echo_the_message() -> None:
    error = classify(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
    assert "security token" not in error.message


def test_retry_after_when_sent() -> None:
    error = classify(429, "ThrottlingException", **{"retry-after": "3"})
    assert error.retry_after_s == 3.0
    assert classify(429, "ThrottlingException").retry_after_s is None


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", "ThrottlingException"),
        ("com.amazon.coral.service#ExpiredTokenException", "ExpiredTokenException"),
        ("throttlingException", "ThrottlingException"),
        ("modelStreamErrorException", "ModelStreamErrorException"),
        ("", None),
        (None, None),
    ],
)
def test_error_type_names(raw: str | None, name: str | None) -> None:
    assert error_type_name(raw) == name
