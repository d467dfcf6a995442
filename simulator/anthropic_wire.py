"""Anthropic Messages routes: ``POST /v1/messages`` (JSON or SSE), with the shared fault knobs.

Validation follows Anthropic's reference and answers in Anthropic's error shape: credentials are
required (``x-api-key``, or ``Authorization: Bearer``, which the ``anthropic`` SDK sends from its
2.0 major version on) -> 401 ``authentication_error``; an ``anthropic-version`` header is required
-> 400; ``model``, ``messages`` and ``max_tokens`` are required and typed -> 400
``invalid_request_error`` naming the field (message roles are ``user``, ``assistant`` and, since
Claude Opus 4.8, a mid-conversation ``system``; consecutive turns of one role are allowed, as
the API merges them); under API version 2026-10-21 or later the removed
sampling parameters (``temperature``, ``top_p``, ``top_k``) are a 400.

The reply is the shared deterministic one (:mod:`simulator.replies`): with ``tools`` (and a
``tool_choice`` other than ``none``) it calls the named tool or the first one, unless the last
user turn carries tool results; ``max_tokens`` caps the words; ``output_config.format`` of type
``json_schema`` gives a JSON reply; a ``stop_sequences`` entry found in the text cuts it there
(``stop_reason: "stop_sequence"``). Knobs: latency, chunk interval, ``error_status`` in Anthropic's
shape (503 is answered as 529 ``overloaded_error``; 429 with ``retry-after``), hang, broken stream
or body, and an ``error`` event mid-stream (``overloaded_error``, as in the streaming page).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from simulator.anthropic_payloads import (
    MessageIds,
    error_body,
    error_kind,
    message_dict,
    sse_event,
    stream_events,
)
from simulator.faults import hang_until_disconnect, paced_events, sleep_ms, truncated_body
from simulator.knobs import KnobError, Knobs
from simulator.openai_wire import header_knobs, json_response
from simulator.replies import Reply, ReplyRequest, build_reply, count_words, new_id
from simulator.state import SimulatorState

__all__ = ["MessagesRequest", "WireError", "parse_messages_request", "routes", "validate_headers"]

SAMPLING_REMOVED_IN = "2026-10-21"
_SAMPLING = ("temperature", "top_p", "top_k")
_TOOL_CHOICES = frozenset({"auto", "any", "tool", "none"})
_ROLES = frozenset({"user", "assistant", "system"})  # "system": mid-conversation system messages (Opus 4.8 on)
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class WireError(Exception):
    """A request the Messages API would refuse, with its status and error type."""

    def __init__(self, message: str, status: int = 400, type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type_


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    model: str
    stream: bool
    stop_sequences: tuple[str, ...]
    reply: ReplyRequest


def _error_response(status: int, type_: str, message: str, headers: dict[str, str] | None = None) -> Response:
    request_id = new_id("req_")
    return json_response(error_body(type_, message, request_id), status, {"request-id": request_id, **(headers or {})})


def _wire_error_response(error: WireError) -> Response:
    return _error_response(error.status, error.type, error.message)


# ---------------------------------------------------------------- request parsing


def validate_headers(request: Request) -> str:
    """Check credentials and ``anthropic-version``; return the version."""
    bearer = request.headers.get("authorization", "")
    if not request.headers.get("x-api-key") and not bearer.lower().startswith("bearer "):
        raise WireError("x-api-key header is required", 401, "authentication_error")
    version = request.headers.get("anthropic-version")
    if not version:
        raise WireError("anthropic-version: header is required")
    return version


def _block_text(block: Any) -> str:
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text") or "")
    if kind == "tool_use":
        return f"{block.get('name', '')} {orjson.dumps(block.get('input') or {}).decode()}"
    if kind == "tool_result":
        return _content_text(block.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(text for text in map(_block_text, content) if text)
    return ""


def _has_tool_result(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def _user_text(message: dict[str, Any]) -> str:
    """What the user said in a turn: its text, leaving tool results out."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    blocks = content if isinstance(content, list) else []
    return " ".join(str(b.get("text") or "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError("messages: Field required (a non-empty list)")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise WireError(f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'")
        content = message.get("content")
        if not isinstance(content, str | list):
            raise WireError(f"messages.{i}.content: Input should be a valid string or list of content blocks")
        for j, block in enumerate(content if isinstance(content, list) else []):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise WireError(f"messages.{i}.content.{j}.type: Field required")
    return messages


def _system_text(body: dict[str, Any]) -> str | None:
    system = body.get("system")
    if system is None:
        return None
    if isinstance(system, str):
        return system
    if isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in system):
        return " ".join(str(b.get("text") or "") for b in system)
    raise WireError("system: Input should be a valid string or a list of text blocks")


def _max_tokens(body: dict[str, Any]) -> int:
    value = body.get("max_tokens")
    if value is None:
        raise WireError("max_tokens: Field required")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WireError("max_tokens: Input should be a valid integer greater than or equal to 0")
    return value


def _tool_name(body: dict[str, Any], messages: list[dict[str, Any]]) -> str | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools):
        raise WireError("tools: Input should be a list of tools, each with a name")
    choice = body.get("tool_choice") or {"type": "auto"}
    if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
        raise WireError("tool_choice: Input should be an object of type auto, any, tool or none")
    if choice["type"] == "tool" and not isinstance(choice.get("name"), str):
        raise WireError("tool_choice.name: Field required")
    if not tools or choice["type"] == "none" or _has_tool_result(messages[-1]):
        return None
    return str(choice["name"]) if choice["type"] == "tool" else str(tools[0]["name"])


def _stop_sequences(body: dict[str, Any]) -> tuple[str, ...]:
    stops = body.get("stop_sequences") or []
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise WireError("stop_sequences: Input should be a list of strings")
    return tuple(stops)


def _json_mode(body: dict[str, Any]) -> bool:
    config = body.get("output_config") or {}
    fmt = (config.get("format") if isinstance(config, dict) else None) or body.get("output_format")
    return isinstance(fmt, dict) and fmt.get("type") == "json_schema"


def _check_sampling(body: dict[str, Any], version: str) -> None:
    if version < SAMPLING_REMOVED_IN:
        return
    for name in _SAMPLING:
        if name in body:
            raise WireError(f"{name}: this parameter is not supported in API version {version}")


def parse_messages_request(raw: bytes, version: str) -> MessagesRequest:
    """Validate a ``POST /v1/messages`` body; raise WireError like the API's 400s."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"There was an error parsing the body of your request: {exc}") from exc
    if not isinstance(body, dict):
        raise WireError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError("model: Field required")
    max_tokens = _max_tokens(body)
    messages = _messages(body)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise WireError("stream: Input should be a valid boolean")
    _check_sampling(body, version)
    system = _system_text(body)
    users = [_user_text(m) for m in messages if m["role"] == "user" and _user_text(m)]
    texts = [_content_text(m["content"]) for m in messages]
    reply = ReplyRequest(
        model=model,
        last_user_text=users[-1] if users else "",
        message_texts=[system, *texts] if system is not None else texts,
        max_words=max_tokens,
        json_mode=_json_mode(body),
        tool_name=_tool_name(body, messages),
    )
    return MessagesRequest(model, stream, _stop_sequences(body), reply)


# ---------------------------------------------------------------- replies


def _cut_at_stop(reply: Reply, stops: tuple[str, ...], knobs: Knobs) -> tuple[Reply, str | None]:
    """The reply cut where the first stop sequence appears, and that sequence (or None)."""
    text = reply.content or ""
    found = [(text.find(s), s) for s in stops if s and s in text]
    if not found:
        return reply, None
    at, stop = min(found)
    cut = text[:at]
    completion = knobs.completion_tokens if knobs.completion_tokens is not None else count_words(cut)
    return dataclasses.replace(reply, content=cut, finish_reason="stop", completion_tokens=completion), stop


def injected_error_response(status: int, model: str, knobs: Knobs) -> Response:
    kind = error_kind(status)
    headers: dict[str, str] = {}
    retry_after = knobs.retry_after_s
    if retry_after is None and kind.status == 429:
        retry_after = 1.0
    if retry_after is not None:
        headers["retry-after"] = str(math.ceil(retry_after))
    if kind.status == 429:
        headers["anthropic-ratelimit-requests-remaining"] = "0"
    message = f"{kind.message.format(model=model)} (simulated {kind.status})"
    return _error_response(kind.status, kind.type, message, headers)


def _stream_error_event(model: str) -> bytes:
    kind = error_kind(529)
    return sse_event(error_body(kind.type, f"{kind.message} (simulated, {model})", None))


def _reply(chat: MessagesRequest, sim: SimulatorState, knobs: Knobs) -> tuple[Reply, str | None, MessageIds]:
    reply = build_reply(chat.reply, knobs, sim.config.word_cap)
    reply, stop = _cut_at_stop(reply, chat.stop_sequences, knobs)
    return reply, stop, MessageIds(new_id("msg_"), new_id("toolu_"))


def _stream_response(chat: MessagesRequest, sim: SimulatorState, knobs: Knobs) -> Response:
    reply, stop, ids = _reply(chat, sim, knobs)
    events = stream_events(reply, ids, chat.model, stop, sim.config.words_per_chunk)
    body = paced_events(events, knobs, partial(_stream_error_event, chat.model))
    headers = {**_SSE_HEADERS, "request-id": new_id("req_")}
    return StreamingResponse(body, headers=headers, media_type="text/event-stream")


async def _plain_response(chat: MessagesRequest, sim: SimulatorState, knobs: Knobs) -> Response:
    reply, stop, ids = _reply(chat, sim, knobs)
    payload = message_dict(reply, ids, chat.model, stop)
    await sleep_ms(knobs.latency_ms)
    headers = {"request-id": new_id("req_")}
    if knobs.break_after_chunks is not None:
        return StreamingResponse(truncated_body(orjson.dumps(payload)), headers=headers, media_type="application/json")
    return json_response(payload, headers=headers)


async def create_message(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    try:
        version = validate_headers(request)
        headers = header_knobs(request)
        chat = parse_messages_request(await request.body(), version)
    except KnobError as exc:
        return _wire_error_response(WireError(str(exc)))
    except WireError as exc:
        return _wire_error_response(exc)
    knobs = sim.effective_knobs(chat.model, headers)
    sim.count_request(chat.model, chat.stream, knobs)
    if knobs.hang:
        await hang_until_disconnect(request, sim.config.hang_cap_s)
        return _error_response(504, "timeout_error", "Simulated hang reached its cap.")
    if knobs.error_status is not None:
        await sleep_ms(knobs.latency_ms)
        return injected_error_response(knobs.error_status, chat.model, knobs)
    if chat.stream:
        return _stream_response(chat, sim, knobs)
    return await _plain_response(chat, sim, knobs)


def routes() -> list[Route]:
    return [Route("/v1/messages", create_message, methods=["POST"])]
