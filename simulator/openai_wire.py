"""OpenAI routes: ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models``.

Request validation and vectors of the embeddings endpoint live in :mod:`simulator.openai_embeddings`;
both endpoints take the same knobs (latency, error statuses with retry-after, hang, a body cut
halfway) and are counted in ``/_sim/stats``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from simulator.faults import (
    hang_until_disconnect,
    paced_events,
    sleep_ms,
    truncated_body,
)
from simulator.knobs import HEADER_PREFIX, KnobError, Knobs, knobs_from_headers
from simulator.openai_embeddings import InvalidEmbeddingsRequest, embeddings_dict, parse_embeddings_request
from simulator.openai_moderations import InvalidModerationRequest, moderation_dict
from simulator.openai_payloads import (
    ChunkMaker,
    completion_dict,
    error_body,
    injected_error_body,
    sse_event,
    stream_events,
)
from simulator.replies import ReplyRequest, build_reply, new_id
from simulator.state import SimulatorState

_HEADER_PREFIX_BYTES = HEADER_PREFIX.encode()
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class WireError(Exception):
    """A request the OpenAI API would refuse with 400 ``invalid_request_error``."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    stream: bool
    include_usage: bool
    reply: ReplyRequest


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, headers, media_type="application/json")


def wire_error_response(error: WireError, status: int = 400) -> Response:
    return json_response(
        error_body(error.message, "invalid_request_error", error.param, error.code),
        status,
    )


# ---------------------------------------------------------------- request parsing


def message_text(message: dict[str, Any]) -> str:
    """Text of a message: text content (parts joined by spaces) plus tool call text."""
    content = message.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = (p.get("text") for p in content if isinstance(p, dict))
        text = " ".join(part for part in parts if isinstance(part, str))
    else:
        text = ""
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            text += f" {function.get('name', '')} {function.get('arguments', '')}"
    return text


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise WireError(
            "'messages' is a required property and must be a non-empty array.",
            "messages",
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise WireError(
                f"Invalid message at messages[{index}]: a 'role' is required.",
                f"messages[{index}]",
            )
    return messages


def _max_words(body: dict[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WireError(f"Invalid '{name}': expected an integer >= 1.", name, "invalid_value")
        return value
    return None


def _json_mode(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format")
    if response_format is None:
        return False
    if not isinstance(response_format, dict):
        raise WireError("Invalid 'response_format': expected an object.", "response_format")
    return response_format.get("type") in ("json_object", "json_schema")


def _tool_name(body: dict[str, Any], messages: list[dict[str, Any]]) -> str | None:
    """The tool the reply calls, or None when the reply is text."""
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise WireError("Invalid 'tools': expected an array.", "tools")
    choice = body.get("tool_choice")
    if not tools or choice == "none" or messages[-1].get("role") == "tool":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str):
            return name
    for tool in tools:
        name = (tool.get("function") or {}).get("name") if isinstance(tool, dict) else None
        if isinstance(name, str):
            return name
    return None


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise WireError("Invalid 'stream': expected a boolean.", "stream")
    options = body.get("stream_options")
    if options is None:
        return stream, False
    if not stream:
        raise WireError(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    if not isinstance(options, dict):
        raise WireError("Invalid 'stream_options': expected an object.", "stream_options")
    return stream, bool(options.get("include_usage"))


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a chat-completions request body; raise WireError like OpenAI's 400s."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"We could not parse the JSON body of your request. ({exc})") from exc
    if not isinstance(body, dict):
        raise WireError("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise WireError("'model' is a required property and must be a non-empty string.", "model")
    messages = _messages(body)
    if body.get("n") not in (None, 1):
        raise WireError("The simulator only supports n=1.", "n", "unsupported_value")
    stream, include_usage = _stream_flags(body)
    users = [m for m in messages if m.get("role") == "user"]
    reply = ReplyRequest(
        model=model,
        last_user_text=message_text(users[-1]) if users else "",
        message_texts=[message_text(m) for m in messages],
        max_words=_max_words(body),
        json_mode=_json_mode(body),
        tool_name=_tool_name(body, messages),
    )
    return ChatRequest(model, stream, include_usage, reply)


def header_knobs(request: Request) -> Knobs:
    """Knobs from ``x-sim-*`` headers (a single pass over the raw headers)."""
    found = {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in request.headers.raw
        if key.startswith(_HEADER_PREFIX_BYTES)
    }
    return knobs_from_headers(found) if found else Knobs()


# ---------------------------------------------------------------- responses


def injected_error_response(status: int, model: str, knobs: Knobs) -> Response:
    headers: dict[str, str] = {"x-request-id": new_id("req_")}
    retry_after = knobs.retry_after_s
    if retry_after is None and status == 429:
        retry_after = 1.0
    if retry_after is not None:
        headers["retry-after"] = str(math.ceil(retry_after))
        headers["retry-after-ms"] = str(round(retry_after * 1000))
    if status == 429:
        headers["x-ratelimit-remaining-requests"] = "0"
        headers["x-ratelimit-reset-requests"] = f"{retry_after:g}s"
    return json_response(injected_error_body(status, model), status, headers)


def _stream_error_event(model: str) -> bytes:
    return sse_event(injected_error_body(500, model))


def _stream_response(chat: ChatRequest, sim: SimulatorState, knobs: Knobs) -> Response:
    reply = build_reply(chat.reply, knobs, sim.config.word_cap)
    maker = ChunkMaker(new_id("chatcmpl-"), int(time.time()), chat.model, chat.include_usage)
    events = stream_events(reply, maker, sim.config.words_per_chunk)
    body = paced_events(events, knobs, partial(_stream_error_event, chat.model))
    headers = {**_SSE_HEADERS, "x-request-id": new_id("req_")}
    return StreamingResponse(body, headers=headers, media_type="text/event-stream")


async def _json_reply(payload: dict[str, Any], knobs: Knobs) -> Response:
    """A JSON reply after ``latency_ms``; with a break knob, the body is cut halfway."""
    await sleep_ms(knobs.latency_ms)
    headers = {"x-request-id": new_id("req_")}
    if knobs.break_after_chunks is not None:
        body = truncated_body(orjson.dumps(payload))
        return StreamingResponse(body, headers=headers, media_type="application/json")
    return json_response(payload, headers=headers)


async def _plain_response(chat: ChatRequest, sim: SimulatorState, knobs: Knobs) -> Response:
    reply = build_reply(chat.reply, knobs, sim.config.word_cap)
    payload = completion_dict(reply, new_id("chatcmpl-"), int(time.time()), chat.model)
    return await _json_reply(payload, knobs)


async def _fault_response(request: Request, sim: SimulatorState, model: str, knobs: Knobs) -> Response | None:
    """The answer to a hang or an injected error status, or None to answer normally."""
    if knobs.hang:
        await hang_until_disconnect(request, sim.config.hang_cap_s)
        return json_response(error_body("Simulated hang reached its cap.", "server_error"), 504)
    if knobs.error_status is not None:
        await sleep_ms(knobs.latency_ms)
        return injected_error_response(knobs.error_status, model, knobs)
    return None


async def chat_completions(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    try:
        headers = header_knobs(request)
        chat = parse_chat_request(await request.body())
    except KnobError as exc:
        return wire_error_response(WireError(str(exc), exc.param))
    except WireError as exc:
        return wire_error_response(exc)
    knobs = sim.effective_knobs(chat.model, headers)
    sim.count_request(chat.model, chat.stream, knobs)
    fault = await _fault_response(request, sim, chat.model, knobs)
    if fault is not None:
        return fault
    if chat.stream:
        return _stream_response(chat, sim, knobs)
    return await _plain_response(chat, sim, knobs)


async def embeddings(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    try:
        headers = header_knobs(request)
        call = parse_embeddings_request(await request.body())
    except KnobError as exc:
        return wire_error_response(WireError(str(exc), exc.param))
    except InvalidEmbeddingsRequest as exc:
        return wire_error_response(WireError(exc.message, exc.param, exc.code))
    knobs = sim.effective_knobs(call.model, headers)
    sim.count_request(call.model, False, knobs)
    fault = await _fault_response(request, sim, call.model, knobs)
    if fault is not None:
        return fault
    return await _json_reply(embeddings_dict(call, knobs.prompt_tokens), knobs)


async def moderations(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    try:
        body = orjson.loads(await request.body())
        result = moderation_dict(body)
    except orjson.JSONDecodeError:
        return wire_error_response(WireError("The body is not valid JSON."))
    except InvalidModerationRequest as exc:
        return wire_error_response(WireError(exc.message, exc.param))
    knobs = sim.effective_knobs(result["model"], header_knobs(request))
    sim.count_request(result["model"], False, knobs)
    await sleep_ms(knobs.latency_ms)  # a slow moderator: ``sim-slow-<ms>`` or the latency knob
    return json_response(result)


async def list_models(request: Request) -> Response:
    sim: SimulatorState = request.app.state.sim
    started = int(time.time())
    models = dict.fromkeys(sim.config.models, started) | sim.seen_models
    data = [
        {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": "turnout-simulator",
        }
        for name, created in models.items()
    ]
    return json_response({"object": "list", "data": data})


def routes() -> list[Route]:
    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/moderations", moderations, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
    ]
