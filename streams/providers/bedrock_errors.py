"""Bedrock errors -> Turnout's error classes.

Written from the Bedrock Runtime API reference (the ``Errors`` of Converse, ConverseStream and
InvokeModel, and the ``ConverseStreamOutput`` exception members) and the Bedrock User Guide page
"Troubleshooting Amazon Bedrock API Error Codes". An HTTP error carries its type in the
``x-amzn-errortype`` header (``ThrottlingException:http://internal.amazon.com/coral/...``; some
front ends put ``__type`` in the body instead) and ``{"message": ...}`` in the body. A stream
error is an event-stream message with ``:message-type`` ``exception`` and ``:exception-type`` the
member name (``throttlingException``), payload ``{"message": ...}``; or ``:message-type``
``error`` with ``:error-code`` and ``:error-message`` headers.

The type decides the class. Only ``ValidationException`` needs its message read, to tell an
over-long input and a content-filter refusal from other bad requests: that table is
:data:`VALIDATION_MESSAGES`, one row per message AWS or a model behind it is known to send.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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

__all__ = ["ERROR_TYPES", "VALIDATION_MESSAGES", "bedrock_error", "classify_bedrock_error", "error_type_name"]

# Bedrock's error type -> Turnout's class (HTTP status in the reference in the comment)
ERROR_TYPES: Mapping[str, type[TurnoutError]] = {
    "ThrottlingException": ProviderRateLimited,  # 429
    "ServiceQuotaExceededException": ProviderRateLimited,  # 400, "you can resubmit your request later"
    "ModelNotReadyException": ProviderOverloaded,  # 429, the model is not ready to serve yet
    "ServiceUnavailableException": ProviderOverloaded,  # 503
    "ModelTimeoutException": ProviderTimeout,  # 408
    "InternalServerException": ProviderError,  # 500
    "InternalFailure": ProviderError,  # 500
    "ModelErrorException": ProviderError,  # 424
    "ModelStreamErrorException": ProviderError,  # 424, in a stream
    "AccessDeniedException": ProviderAuthError,  # 403
    "UnrecognizedClientException": ProviderAuthError,  # 403, unknown access key or token
    "InvalidSignatureException": ProviderAuthError,  # 403
    "IncompleteSignature": ProviderAuthError,  # 400
    "IncompleteSignatureException": ProviderAuthError,
    "MissingAuthenticationTokenException": ProviderAuthError,  # 403
    "ExpiredTokenException": ProviderAuthError,  # 403
    "ResourceNotFoundException": ProviderBadRequest,  # 404, no such model
    "ValidationException": ProviderBadRequest,  # 400, unless VALIDATION_MESSAGES says more
}

# ValidationException messages that mean more than "bad request" (case-insensitive search)
VALIDATION_MESSAGES: tuple[tuple[re.Pattern[str], type[TurnoutError]], ...] = (
    # "Input is too long for requested model." (Bedrock, Claude and others)
    (re.compile(r"input is too long", re.IGNORECASE), ContextWindowExceeded),
    # "The model returned the following errors: prompt is too long: 200049 tokens > 200000 maximum"
    (re.compile(r"prompt is too long", re.IGNORECASE), ContextWindowExceeded),
    # "... input length and `max_tokens` exceed context limit: 94607 + 112147 > 204648 ..."
    (re.compile(r"exceed(s|ed)? (the )?context (limit|window)", re.IGNORECASE), ContextWindowExceeded),
    # "This model's maximum context length is 32768 tokens ..." (OpenAI-style open-weight models)
    (re.compile(r"maximum context length", re.IGNORECASE), ContextWindowExceeded),
    # "The model returned the following errors: Output blocked by content filtering policy"
    (re.compile(r"content filtering policy", re.IGNORECASE), ProviderContentPolicy),
    # "This request has been blocked by our content filters." (Titan image models)
    (re.compile(r"blocked by (our|the) content filters?", re.IGNORECASE), ProviderContentPolicy),
    # "One or more prompts contains filtered words." (Stability models)
    (re.compile(r"contains filtered words", re.IGNORECASE), ProviderContentPolicy),
)

# by status, when no error type came with the error
_BY_STATUS: Mapping[int, type[TurnoutError]] = {
    400: ProviderBadRequest,
    401: ProviderAuthError,
    403: ProviderAuthError,
    404: ProviderBadRequest,
    408: ProviderTimeout,
    422: ProviderBadRequest,
    429: ProviderRateLimited,
    503: ProviderOverloaded,
    529: ProviderOverloaded,
}


def error_type_name(raw: str | None) -> str | None:
    """``ThrottlingException:http://...``, ``com.amazon...#ThrottlingException`` or the stream's
    ``throttlingException`` -> ``ThrottlingException``."""
    if not raw:
        return None
    name = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return name[:1].upper() + name[1:] if name else None


def bedrock_error(
    type_name: str | None, message: str, status: int | None = None, retry_after_s: float | None = None
) -> TurnoutError:
    """A typed error from Bedrock's error type (normalized by :func:`error_type_name`) and message."""
    cls = ERROR_TYPES.get(type_name or "")
    if cls is None:
        cls = _BY_STATUS.get(status or 0, ProviderError)
    if type_name == "ValidationException" or (cls is ProviderBadRequest and type_name is None):
        for pattern, special in VALIDATION_MESSAGES:
            if pattern.search(message):
                cls = special
                break
    if cls is ProviderAuthError:
        error: TurnoutError = cls(f"The provider refused the gateway's credentials ({type_name or status}).")
    elif cls in (ProviderRateLimited, ProviderOverloaded):
        error = cls(message, retry_after_s=retry_after_s)
    else:
        error = cls(message)
    error.upstream_status = status
    return error


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify_bedrock_error(status: int, headers: Mapping[str, str], body: bytes) -> TurnoutError:
    """An HTTP error reply (status, headers, body) -> a typed error."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        data = {}
    raw_type = lowered.get("x-amzn-errortype") or data.get("__type") or data.get("code")
    message = data.get("message") or data.get("Message")
    if not isinstance(message, str) or not message:
        message = f"The provider answered HTTP {status}."
    type_name = error_type_name(raw_type if isinstance(raw_type, str) else None)
    return bedrock_error(type_name, message, status, _retry_after(lowered))
