"""Reading what the Gemini API sends back: ``GenerateContentResponse`` pieces (parts, finish
reasons, usage, a blocked prompt) and the Google error shape ``{"error": {"code", "message",
"status", "details"}}``.

Written from the Gemini API reference (ai.google.dev/api/generate-content: ``GenerateContentResponse``,
``Candidate``, ``FinishReason``, ``PromptFeedback``, ``UsageMetadata``) and the troubleshooting page's
table of backend error codes (ai.google.dev/gemini-api/docs/troubleshooting), with the
``google.rpc`` details Google attaches (``ErrorInfo.reason``, ``RetryInfo.retryDelay``).

- Text parts are joined; parts marked ``thought: true`` (thought summaries) are left out.
- ``functionCall`` parts become tool calls. Gemini usually sends no call id, so Turnout makes a
  stable one, ``call_<n>_<name>`` (``n`` counts the calls of the reply from 0); a ``functionCall.id``
  the API does send is kept. Tool results are matched back to names through these ids.
- Usage: ``promptTokenCount`` (+ ``toolUsePromptTokenCount``) -> prompt tokens;
  ``candidatesTokenCount`` + ``thoughtsTokenCount`` -> completion tokens (thinking is billed as
  output); ``cachedContentTokenCount`` -> cached tokens; ``totalTokenCount`` -> total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
from schemas.events import ToolCall, Usage

__all__ = [
    "CONTEXT_WINDOW_MESSAGES",
    "FINISH_REASONS",
    "CandidateParts",
    "blocked_prompt_error",
    "candidate_parts",
    "classify_gemini_error",
    "finish_reason",
    "synthetic_call_id",
    "usage_from_gemini",
]

# Gemini FinishReason -> OpenAI finish_reason; anything else (OTHER, MALFORMED_FUNCTION_CALL,
# LANGUAGE, FINISH_REASON_UNSPECIFIED...) reads as "stop".
FINISH_REASONS: Mapping[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
}

# Messages of a 400 INVALID_ARGUMENT that mean the prompt is longer than the model's context window
# (tests/unit/streams/providers/test_gemini_errors.py has a row for each).
CONTEXT_WINDOW_MESSAGES: tuple[re.Pattern[str], ...] = (
    re.compile(r"input token count \(\d+\) exceeds the maximum number of tokens allowed", re.IGNORECASE),
    re.compile(r"exceeds the maximum number of tokens allowed", re.IGNORECASE),
)

# google.rpc.ErrorInfo reasons that mean the gateway's key was refused (Google answers an invalid
# key with 400 INVALID_ARGUMENT, not 401).
_AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})


def synthetic_call_id(index: int, name: str) -> str:
    return f"call_{index}_{name}"


def finish_reason(gemini: str | None, called_tools: bool) -> str | None:
    if not gemini:
        return None
    mapped = FINISH_REASONS.get(gemini, "stop")
    return "tool_calls" if mapped == "stop" and called_tools else mapped


def usage_from_gemini(meta: Any) -> Usage:
    if not isinstance(meta, dict):
        return Usage()
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + int(meta.get("thoughtsTokenCount") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=int(meta.get("cachedContentTokenCount") or 0),
        total_tokens=int(meta.get("totalTokenCount") or prompt + completion),
    )


@dataclass
class CandidateParts:
    """What one candidate (or one streamed fragment of it) says."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: str | None = None


def candidate_parts(data: dict[str, Any], first_call_index: int = 0) -> CandidateParts:
    """Text, tool calls and the raw finish reason of ``candidates[0]`` (empty when there is none)."""
    candidates = data.get("candidates") or []
    if not candidates:
        return CandidateParts()
    candidate = candidates[0]
    parts = (candidate.get("content") or {}).get("parts") or []
    found = CandidateParts(finish=candidate.get("finishReason"))
    texts: list[str] = []
    for part in parts:
        if isinstance(part.get("text"), str) and not part.get("thought"):
            texts.append(part["text"])
        call = part.get("functionCall")
        if isinstance(call, dict):
            name = str(call["name"])
            index = first_call_index + len(found.tool_calls)
            arguments = orjson.dumps(call.get("args") or {}).decode()
            found.tool_calls.append(ToolCall(str(call.get("id") or synthetic_call_id(index, name)), name, arguments))
    found.text = "".join(texts)
    return found


def blocked_prompt_error(data: dict[str, Any]) -> ProviderContentPolicy | None:
    """The error for a prompt Gemini refused (``promptFeedback.blockReason`` and no candidates)."""
    feedback = data.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if not reason or data.get("candidates"):
        return None
    return ProviderContentPolicy(f"Gemini blocked the prompt ({reason}).")


def _error_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if isinstance(data, list) and data:  # streamGenerateContent without alt=sse wraps it in an array
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else {}


def _details(err: dict[str, Any], type_suffix: str) -> list[dict[str, Any]]:
    details = err.get("details")
    if not isinstance(details, list):
        return []
    return [d for d in details if isinstance(d, dict) and str(d.get("@type", "")).endswith(type_suffix)]


def _retry_after(headers: Mapping[str, str], err: dict[str, Any]) -> float | None:
    for info in _details(err, "google.rpc.RetryInfo"):
        delay = str(info.get("retryDelay") or "")
        try:
            return float(delay.removesuffix("s"))
        except ValueError:
            continue
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify_gemini_error(status: int, headers: Mapping[str, str], body: bytes) -> TurnoutError:
    """A typed error from the HTTP status and Google's error body (``status`` and ``details``)."""
    try:
        blocked = blocked_prompt_error(orjson.loads(body))
    except (orjson.JSONDecodeError, AttributeError):
        blocked = None
    err = _error_object(body)
    message = str(err.get("message") or f"The provider answered HTTP {status}.")
    error = blocked or _classify(status, str(err.get("status") or ""), headers, err, message)
    error.upstream_status = status
    return error


def _classify(status: int, name: str, headers: Mapping[str, str], err: dict[str, Any], message: str) -> TurnoutError:
    reasons = {str(d.get("reason")) for d in _details(err, "google.rpc.ErrorInfo")}
    if reasons & _AUTH_REASONS or name in ("UNAUTHENTICATED", "PERMISSION_DENIED") or status in (401, 403):
        return ProviderAuthError("The provider refused the gateway's credentials.")
    if name == "RESOURCE_EXHAUSTED" or status == 429:
        return ProviderRateLimited(message, retry_after_s=_retry_after(headers, err))
    if name == "UNAVAILABLE" or status == 503:
        return ProviderOverloaded(message, retry_after_s=_retry_after(headers, err))
    if name == "DEADLINE_EXCEEDED" or status == 504:
        return ProviderTimeout(message)
    if status < 500 and any(p.search(message) for p in CONTEXT_WINDOW_MESSAGES):
        return ContextWindowExceeded(message)
    if name in ("INVALID_ARGUMENT", "FAILED_PRECONDITION", "NOT_FOUND", "OUT_OF_RANGE") or 400 <= status < 500:
        return ProviderBadRequest(message)
    return ProviderError(message)
