"""Anthropic's errors -> Turnout's error classes.

Written from Anthropic's "Claude API errors" page (platform.claude.com/docs/en/api/errors): every
error body is ``{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}``,
and the HTTP status goes with ``error.type``: 400 ``invalid_request_error``, 401
``authentication_error``, 402 ``billing_error``, 403 ``permission_error``, 404 ``not_found_error``,
413 ``request_too_large``, 429 ``rate_limit_error`` (with a ``retry-after`` header), 500
``api_error``, 504 ``timeout_error``, 529 ``overloaded_error``. A stream that already answered 200
reports the same object as an ``event: error`` (the streaming page's example is an
``overloaded_error``). The SDK's error table (``anthropic._error_classes``) adds the structured
``error.details.error_code``; the spend-limit 429s there are not worth retrying.

Anthropic has no structured type for a too-long prompt or for its content filter: both are 400
``invalid_request_error`` told apart only by their message, so those live in ``MESSAGE_RULES``
(a row each, each with a test). The messages are the ones the API sends, as reported verbatim in
public issues: ``prompt is too long: 201234 tokens > 200000 maximum``, ``input length and
`max_tokens` exceed context limit: 199759 + 8192 > 200000, ...`` and ``Output blocked by content
filtering policy``. A refusal by the model itself is not an error at all: it is a 200 reply with
``stop_reason: "refusal"`` (finish reason ``content_filter``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

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

__all__ = [
    "ERROR_TYPE_STATUS",
    "MESSAGE_RULES",
    "MessageRule",
    "classify_anthropic_error",
    "classify_stream_error",
]

# Anthropic's error.type -> the HTTP status it documents for it (used for in-stream errors)
ERROR_TYPE_STATUS: Mapping[str, int] = MappingProxyType(
    {
        "invalid_request_error": 400,
        "authentication_error": 401,
        "billing_error": 402,
        "permission_error": 403,
        "not_found_error": 404,
        "request_too_large": 413,
        "rate_limit_error": 429,
        "api_error": 500,
        "timeout_error": 504,
        "overloaded_error": 529,
    }
)

_BY_TYPE: Mapping[str, type[TurnoutError]] = MappingProxyType(
    {
        "invalid_request_error": ProviderBadRequest,
        "not_found_error": ProviderBadRequest,
        "request_too_large": ProviderBadRequest,
        "authentication_error": ProviderAuthError,
        "permission_error": ProviderAuthError,
        "billing_error": ProviderAuthError,
        "rate_limit_error": ProviderRateLimited,
        "overloaded_error": ProviderOverloaded,
        "timeout_error": ProviderTimeout,
        "api_error": ProviderError,
    }
)
# when the body names no type Turnout knows
_BY_STATUS: Mapping[int, type[TurnoutError]] = MappingProxyType(
    {
        400: ProviderBadRequest,
        404: ProviderBadRequest,
        413: ProviderBadRequest,
        422: ProviderBadRequest,
        401: ProviderAuthError,
        402: ProviderAuthError,
        403: ProviderAuthError,
        429: ProviderRateLimited,
        503: ProviderOverloaded,
        529: ProviderOverloaded,
        504: ProviderTimeout,
    }
)
# error.details.error_code: the account cannot be used until someone acts, so no retry
_BY_CODE: Mapping[str, type[TurnoutError]] = MappingProxyType(
    {
        "enforced_spend_limit_reached": ProviderAuthError,
        "contract_spend_limit_reached": ProviderAuthError,
    }
)


@dataclass(frozen=True, slots=True)
class MessageRule:
    """An ``invalid_request_error`` whose message matches ``pattern`` is really ``error``."""

    pattern: re.Pattern[str]
    error: type[TurnoutError]


MESSAGE_RULES: tuple[MessageRule, ...] = (
    MessageRule(re.compile(r"\bprompt is too long\b", re.IGNORECASE), ContextWindowExceeded),
    MessageRule(re.compile(r"\bexceed context limit\b", re.IGNORECASE), ContextWindowExceeded),
    MessageRule(re.compile(r"\bcontent filtering policy\b", re.IGNORECASE), ProviderContentPolicy),
)

_RETRY_AFTER = (ProviderRateLimited, ProviderOverloaded)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else {}


def _error_class(status: int, err: Mapping[str, Any], message: str) -> type[TurnoutError]:
    err_type = err.get("type")
    if err_type == "invalid_request_error" or (err_type is None and status == 400):
        for rule in MESSAGE_RULES:
            if rule.pattern.search(message):
                return rule.error
    details = err.get("details")
    code = details.get("error_code") if isinstance(details, dict) else None
    if isinstance(code, str) and code in _BY_CODE:
        return _BY_CODE[code]
    if isinstance(err_type, str) and err_type in _BY_TYPE:
        return _BY_TYPE[err_type]
    return _BY_STATUS.get(status, ProviderError)


def _build(status: int, headers: Mapping[str, str], err: Mapping[str, Any]) -> TurnoutError:
    message = str(err.get("message") or f"The provider answered HTTP {status}.")
    cls = _error_class(status, err, message)
    if cls is ProviderAuthError and err.get("type") in ("authentication_error", "permission_error"):
        return ProviderAuthError("The provider refused the gateway's credentials.")
    if issubclass(cls, _RETRY_AFTER):
        return cls(message, retry_after_s=_retry_after(headers))
    return cls(message)


def classify_anthropic_error(status: int, headers: Mapping[str, str], body: bytes) -> TurnoutError:
    """A typed error from the HTTP status and Anthropic's error body."""
    error = _build(status, headers, _error_object(body))
    error.upstream_status = status
    return error


def classify_stream_error(err: Any) -> TurnoutError:
    """A typed error from the ``error`` object of an in-stream ``error`` event (the HTTP status was 200)."""
    obj = err if isinstance(err, dict) else {}
    status = ERROR_TYPE_STATUS.get(str(obj.get("type")), 500)
    return _build(status, {}, obj)
