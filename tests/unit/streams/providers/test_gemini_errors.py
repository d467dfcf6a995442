"""``classify_gemini_error``: Google's error shape -> Turnout's error classes, and a row for each
entry of the context-window message table."""

from __future__ import annotations

import json
from typing import Any

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
from streams.providers.gemini_reply import CONTEXT_WINDOW_MESSAGES, classify_gemini_error


def google(code: int, status: str, message: str = "m", details: list[dict[str, Any]] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return json.dumps({"error": error}).encode()


# one row per pattern of CONTEXT_WINDOW_MESSAGES, in order, with a message Gemini sends
CONTEXT_MESSAGES = [
    "The input token count (1054016) exceeds the maximum number of tokens allowed (1048576).",
    "The input token count exceeds the maximum number of tokens allowed (131072).",
]


def test_the_message_table_has_a_row_for_each_pattern() -> None:
    assert len(CONTEXT_MESSAGES) == len(CONTEXT_WINDOW_MESSAGES)
    for pattern, message in zip(CONTEXT_WINDOW_MESSAGES, CONTEXT_MESSAGES, strict=True):
        assert pattern.search(message), message


@pytest.mark.parametrize("message", CONTEXT_MESSAGES)
def test_context_window_messages(message: str) -> None:
    error = classify_gemini_error(400, {}, google(400, "INVALID_ARGUMENT", message))
    assert isinstance(error, ContextWindowExceeded) and error.message == message


@pytest.mark.parametrize(
    "message",
    [
        "* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive.\n",
        "Request payload size exceeds the limit: 20971520 bytes.",
    ],
)
def test_other_invalid_arguments_are_bad_requests(message: str) -> None:
    assert type(classify_gemini_error(400, {}, google(400, "INVALID_ARGUMENT", message))) is ProviderBadRequest


RETRY = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "57.238747106s"}
KEY = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}
TABLE: list[tuple[int, bytes, type[TurnoutError]]] = [
    (400, google(400, "INVALID_ARGUMENT", "API key not valid.", [KEY]), ProviderAuthError),
    (401, google(401, "UNAUTHENTICATED"), ProviderAuthError),
    (403, google(403, "PERMISSION_DENIED"), ProviderAuthError),
    (404, google(404, "NOT_FOUND", "models/x is not found for API version v1beta"), ProviderBadRequest),
    (400, google(400, "FAILED_PRECONDITION"), ProviderBadRequest),
    (429, google(429, "RESOURCE_EXHAUSTED"), ProviderRateLimited),
    (500, google(500, "INTERNAL"), ProviderError),
    (503, google(503, "UNAVAILABLE"), ProviderOverloaded),
    (504, google(504, "DEADLINE_EXCEEDED"), ProviderTimeout),
    (502, b"<html>Bad Gateway</html>", ProviderError),
    (413, b"", ProviderBadRequest),
    (200, json.dumps({"promptFeedback": {"blockReason": "BLOCKLIST"}}).encode(), ProviderContentPolicy),
]


@pytest.mark.parametrize(("status", "body", "cls"), TABLE)
def test_classification(status: int, body: bytes, cls: type[TurnoutError]) -> None:
    error = classify_gemini_error(status, {}, body)
    assert type(error) is cls
    assert error.upstream_status == status


def test_the_retry_delay_comes_from_retry_info_then_the_header() -> None:
    body = google(429, "RESOURCE_EXHAUSTED", "quota", [{"@type": "type.googleapis.com/google.rpc.Help"}, RETRY])
    assert classify_gemini_error(429, {"retry-after": "3"}, body).retry_after_s == pytest.approx(57.238747106)
    plain = google(503, "UNAVAILABLE")
    assert classify_gemini_error(503, {"retry-after": "3"}, plain).retry_after_s == 3.0
    bad = google(429, "RESOURCE_EXHAUSTED", "q", [{**RETRY, "retryDelay": "soon"}])
    assert classify_gemini_error(429, {"retry-after": "x"}, bad).retry_after_s is None


def test_an_error_wrapped_in_an_array_is_read() -> None:
    body = json.dumps([{"error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}}])
    error = classify_gemini_error(429, {}, body.encode())
    assert isinstance(error, ProviderRateLimited) and error.message == "Resource exhausted."


def test_the_status_name_decides_when_the_http_status_is_generic() -> None:
    error = classify_gemini_error(500, {}, google(503, "UNAVAILABLE", "The model is overloaded."))
    assert isinstance(error, ProviderOverloaded)
