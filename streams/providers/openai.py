"""OpenAI chat completions and embeddings, and the OpenAI-compatible servers.

Written from OpenAI's API reference (platform.openai.com/docs/api-reference):
- ``chat/create`` and ``chat/object``: ``POST {base_url}/chat/completions``; the reply's
  ``choices[0].message`` (``content``, ``tool_calls[].function.{name, arguments}``), ``finish_reason``
  and ``usage`` (``prompt_tokens_details.cached_tokens``);
- ``chat/streaming``: Server-Sent Events of ``chat.completion.chunk`` objects ending with
  ``data: [DONE]``; ``delta.tool_calls[]`` carry ``index``, and ``id``/``type``/``function.name``
  arrive once per index before the ``function.arguments`` fragments; with
  ``stream_options.include_usage`` a last chunk with empty ``choices`` carries ``usage``. Turnout
  always asks for usage on streams, so streamed calls are costed from the provider's own count;
- ``embeddings/create``: ``POST {base_url}/embeddings`` (``input``, ``encoding_format``,
  ``dimensions``, ``user``) -> ``{"object": "list", "data": [{"index", "embedding"}], "usage"}``;
- the error-codes guide (guides/error-codes) and the error object ``{"error": {"message", "type",
  "param", "code"}}``; an error in a stream is a ``data:`` event holding such an object, and
  ``retry-after-ms`` is preferred to ``retry-after``, as the official ``openai`` SDK reads them.

OpenAI-compatible servers (vLLM, Ollama's ``/v1``, llama.cpp's ``llama-server``, Mistral) speak the
same format with these differences, all handled here and covered by fixtures
(``tests/fixtures/providers/openai/compatible_server_*``):
- a server that ignores ``stream_options`` (older Ollama and llama.cpp builds) ends its stream
  with ``[DONE]`` and no usage chunk: the reply has zero usage, it does not fail;
- no API key: no ``authorization`` header is sent;
- vLLM before 0.10 sends its error fields at the top level (``{"object": "error", "message",
  "type", "param", "code": 400}``) and reports an oversized prompt only in words; llama.cpp names
  it with ``type: exceed_context_size_error``. Both become ``ContextWindowExceeded``.
"""

from __future__ import annotations

import math
import re
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
    ProviderStreamBroken,
    TurnoutError,
)
from schemas.events import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ToolCall,
    Usage,
)
from streams.providers.base import HttpRequestSpec, ProviderEndpoint, StreamDelta, ToolCallDelta

__all__ = ["OpenAIAdapter", "OpenAIStreamParser", "message_to_openai", "usage_from_openai"]

# unified ChatRequest field -> OpenAI parameter; JSON-text fields are decoded on the way.
_SCALAR_PARAMS: tuple[tuple[str, str], ...] = (
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("max_tokens", "max_tokens"),
    ("seed", "seed"),
    ("user", "user"),
)
_JSON_PARAMS: tuple[tuple[str, str], ...] = (
    ("tools_json", "tools"),
    ("tool_choice_json", "tool_choice"),
    ("response_format_json", "response_format"),
)


# parameters the gateway sets itself; extra_json may not override them
_GATEWAY_OWNED = frozenset({"model", "messages", "stream", "stream_options"})


def message_to_openai(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role}
    if message.parts_json is not None:
        out["content"] = orjson.loads(message.parts_json)
    else:
        out["content"] = message.content
    if message.name is not None:
        out["name"] = message.name
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return out


def usage_from_openai(data: dict[str, Any] | None) -> Usage:
    if not data:
        return Usage()
    details = data.get("prompt_tokens_details") or {}
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=int(details.get("cached_tokens") or 0),
        total_tokens=int(data.get("total_tokens") or prompt + completion),
    )


def _tool_calls_from_openai(items: list[dict[str, Any]] | None) -> list[ToolCall]:
    return [
        ToolCall(id=c.get("id", ""), name=c["function"]["name"], arguments=c["function"].get("arguments", ""))
        for c in items or []
        if c.get("type", "function") == "function"
    ]


class OpenAIAdapter:
    kind = "openai"
    capabilities = frozenset({"chat", "stream", "tools", "json_mode", "embeddings"})
    max_embedding_inputs = 2048  # the embeddings reference's limit

    def build_request(self, request: ChatRequest, upstream_model: str, endpoint: ProviderEndpoint) -> HttpRequestSpec:
        body: dict[str, Any] = {}
        if request.extra_json:
            extra = orjson.loads(request.extra_json)
            body.update({k: v for k, v in extra.items() if k not in _GATEWAY_OWNED})
        body["model"] = upstream_model
        body["messages"] = [message_to_openai(m) for m in request.messages]
        for ours, theirs in _SCALAR_PARAMS:
            value = getattr(request, ours)
            if value is not None:
                body[theirs] = value
        for ours, theirs in _JSON_PARAMS:
            value = getattr(request, ours)
            if value is not None:
                body[theirs] = orjson.loads(value)
        if request.stop:
            body["stop"] = list(request.stop)
        if request.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        headers = {"content-type": "application/json", "accept": "application/json"}
        if request.stream:
            headers["accept"] = "text/event-stream"
        if endpoint.api_key:
            headers["authorization"] = f"Bearer {endpoint.api_key}"
        url = endpoint.base_url.rstrip("/") + "/chat/completions"
        return HttpRequestSpec("POST", url, headers, orjson.dumps(body))

    def build_embeddings_request(
        self, request: EmbeddingsRequest, upstream_model: str, endpoint: ProviderEndpoint
    ) -> HttpRequestSpec:
        body: dict[str, Any] = {"model": upstream_model, "input": list(request.inputs), "encoding_format": "float"}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if request.user is not None:
            body["user"] = request.user
        headers = {"content-type": "application/json", "accept": "application/json"}
        if endpoint.api_key:
            headers["authorization"] = f"Bearer {endpoint.api_key}"
        url = endpoint.base_url.rstrip("/") + "/embeddings"
        return HttpRequestSpec("POST", url, headers, orjson.dumps(body))

    def parse_embeddings_response(self, body: bytes, upstream_model: str) -> EmbeddingsResponse:
        try:
            data = orjson.loads(body)
            items = sorted(data["data"], key=lambda d: int(d.get("index", 0)))
            return EmbeddingsResponse(
                vectors=[[float(x) for x in item["embedding"]] for item in items],
                usage=usage_from_openai(data.get("usage")),
                upstream_model=str(data.get("model") or upstream_model),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(f"The provider sent embeddings Turnout cannot read: {exc}") from None

    def parse_response(self, body: bytes, upstream_model: str) -> ChatResponse:
        try:
            data = orjson.loads(body)
            choice = data["choices"][0]
            message = choice.get("message") or {}
            return ChatResponse(
                id=str(data.get("id", "")),
                content=message.get("content"),
                tool_calls=_tool_calls_from_openai(message.get("tool_calls")),
                finish_reason=choice.get("finish_reason") or "stop",
                usage=usage_from_openai(data.get("usage")),
                upstream_model=str(data.get("model") or upstream_model),
                created=int(data.get("created") or 0),
            )
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(f"The provider sent a response Turnout cannot read: {exc}") from None

    def parse_error(self, status: int, headers: dict[str, str], body: bytes) -> TurnoutError:
        return classify_openai_error(status, headers, body)

    def stream_parser(self) -> OpenAIStreamParser:
        return OpenAIStreamParser()


def _retry_after(headers: dict[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` (preferred, as the openai SDK does) or ``retry-after``.

    An HTTP-date ``retry-after`` gives None: the adapter is pure and has no clock.
    """
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            continue
        if seconds >= 0 and math.isfinite(seconds):
            return seconds
    return None


# Errors some servers name only in words, matched on the message of a 400-class error; a test per row.
_MESSAGE_RULES: tuple[tuple[re.Pattern[str], type[TurnoutError]], ...] = (
    # vLLM: "This model's maximum context length is 4096 tokens. However, you requested ..."
    (re.compile(r"maximum context length is \d+ tokens", re.IGNORECASE), ContextWindowExceeded),
    # OpenAI reasoning models, code invalid_prompt: "... flagged as potentially violating our usage policy ..."
    (re.compile(r"flagged as potentially violating our usage policy", re.IGNORECASE), ProviderContentPolicy),
)
# error.type values that name a condition without an OpenAI error code
_CONTEXT_WINDOW_TYPES = frozenset({"exceed_context_size_error"})  # llama.cpp's llama-server


def _error_object(body: bytes) -> dict[str, Any]:
    """The error object of an error body: ``{"error": {...}}``, or vLLM's fields at the top level."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(data, dict):
        return {}
    err = data.get("error")
    if isinstance(err, dict):
        return err
    if data.get("object") == "error":
        return data
    return {}


def classify_openai_error(status: int, headers: dict[str, str], body: bytes) -> TurnoutError:
    """A typed error from the status and OpenAI's structured error body (``error.code/type``)."""
    err = _error_object(body)
    message = str(err.get("message") or f"The provider answered HTTP {status}.")
    error = _classify(status, headers, err, message)
    error.upstream_status = status
    return error


def _param(err: dict[str, Any]) -> str | None:
    param = err.get("param")
    return param if isinstance(param, str) else None


def _by_message(message: str) -> type[TurnoutError] | None:
    for pattern, cls in _MESSAGE_RULES:
        if pattern.search(message):
            return cls
    return None


def _classify(status: int, headers: dict[str, str], err: dict[str, Any], message: str) -> TurnoutError:
    code, kind = err.get("code"), err.get("type")
    if code == "context_length_exceeded" or (isinstance(kind, str) and kind in _CONTEXT_WINDOW_TYPES):
        return ContextWindowExceeded(message, param=_param(err))
    if code == "content_policy_violation" or kind == "content_policy_violation":
        return ProviderContentPolicy(message)
    if status == 429:
        return ProviderRateLimited(message, retry_after_s=_retry_after(headers))
    if status in (401, 403):
        return ProviderAuthError("The provider refused the gateway's credentials.")
    if status in (400, 404, 422):
        cls = _by_message(message) or ProviderBadRequest
        return cls(message, param=_param(err))
    if status in (503, 529):
        return ProviderOverloaded(message, retry_after_s=_retry_after(headers))
    return ProviderError(message)


class OpenAIStreamParser:
    """Turns the bytes of an OpenAI SSE stream into deltas."""

    def __init__(self) -> None:
        self._buffer = b""
        self._done = False

    def feed(self, data: bytes) -> list[StreamDelta]:
        self._buffer += data
        deltas: list[StreamDelta] = []
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            line = line.strip()
            if not line.startswith(b"data:"):
                continue  # comments, event names, blank separators
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self._done = True
                continue
            delta = self._parse_event(payload)
            if delta is not None:
                deltas.append(delta)
        return deltas

    def close(self) -> None:
        if not self._done:
            raise ProviderStreamBroken("The provider's stream ended before [DONE].")

    @staticmethod
    def _parse_event(payload: bytes) -> StreamDelta | None:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ProviderStreamBroken("The provider sent an unreadable stream event.") from None
        if not isinstance(data, dict):
            raise ProviderStreamBroken("The provider sent a stream event that is not an object.")
        if data.get("error"):  # like the openai SDK: only a non-empty error field is an error
            err = data["error"] if isinstance(data["error"], dict) else {}
            raise ProviderError(str(err.get("message") or "The provider's stream reported an error."))
        try:
            return _delta_from_chunk(data)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise ProviderStreamBroken(f"The provider sent a malformed stream chunk: {exc}") from None


def _delta_from_chunk(data: dict[str, Any]) -> StreamDelta | None:
    usage = usage_from_openai(data["usage"]) if data.get("usage") else None
    choices = data.get("choices") or []
    if not choices:
        return StreamDelta(usage=usage, response_id=data.get("id")) if usage else None
    choice = choices[0]
    delta = choice.get("delta") or {}
    tool_calls = [
        ToolCallDelta(
            index=int(tc.get("index", 0)),
            id=tc.get("id"),
            name=(tc.get("function") or {}).get("name"),
            arguments=(tc.get("function") or {}).get("arguments") or "",
        )
        for tc in delta.get("tool_calls") or []
    ]
    return StreamDelta(
        content=delta.get("content") or "",
        tool_calls=tool_calls,
        finish_reason=choice.get("finish_reason"),
        usage=usage,
        response_id=data.get("id"),
    )
