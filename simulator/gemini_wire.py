"""Gemini API routes: ``POST /{version}/models/{model}:generateContent``, ``:streamGenerateContent``
(``?alt=sse`` streams Server-Sent Events; without it the fragments come back as one JSON array, as
Google sends them), ``:embedContent`` and ``:batchEmbedContents``.

The API key is read from ``x-goog-api-key`` or the ``key`` query parameter; without one the
request is refused like Google does (403 ``PERMISSION_DENIED``). Errors, validation failures and
injected faults use Google's error shape; a 429 carries ``google.rpc.RetryInfo.retryDelay`` in
the body (Google sends no ``Retry-After`` header). A stream cut by the ``break_after_chunks`` knob
never sends the fragment with the ``finishReason``; an ``error_after_chunks`` stream ends with an
``{"error": ...}`` event (500 ``INTERNAL``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from simulator.faults import hang_until_disconnect, paced_events, sleep_ms, truncated_body
from simulator.gemini_payloads import (
    UNREGISTERED_CALLER,
    GenerateRequest,
    GoogleError,
    embedding,
    error_body,
    injected_error,
    json_array,
    parse_embed_request,
    parse_generate_request,
    response_dict,
    sse_event,
    stream_events,
    stream_fragments,
)
from simulator.knobs import KnobError, Knobs
from simulator.openai_wire import header_knobs
from simulator.replies import build_reply, new_id
from simulator.state import SimulatorState

API_VERSIONS = frozenset({"v1", "v1beta", "v1alpha"})
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, media_type="application/json; charset=UTF-8")


def _error(error: GoogleError) -> Response:
    return _json(error_body(error.status, error.message, error.details), error.status)


def _check_call(request: Request) -> str:
    """The model named in the path, once the version and the API key are acceptable."""
    version = request.path_params["version"]
    model = str(request.path_params["model"])
    if version not in API_VERSIONS:
        raise GoogleError(f"API version {version} is not found.", 404)
    if not (request.headers.get("x-goog-api-key") or request.query_params.get("key")):
        raise GoogleError(UNREGISTERED_CALLER, 403)
    return model


async def _faulted(request: Request, sim: SimulatorState, model: str, knobs: Knobs) -> Response | None:
    """The response a hang or an injected error gives, or None to answer normally."""
    if knobs.hang:
        await hang_until_disconnect(request, sim.config.hang_cap_s)
        return _error(GoogleError("Simulated hang reached its cap.", 504))
    if knobs.error_status is not None:
        await sleep_ms(knobs.latency_ms)
        retry_after = knobs.retry_after_s
        if retry_after is None and knobs.error_status == 429:
            retry_after = 1.0
        return _error(injected_error(knobs.error_status, model, retry_after))
    return None


def _stream_error_event(model: str) -> bytes:
    error = injected_error(500, model, None)
    return sse_event(error_body(error.status, error.message))


def _generated(call: GenerateRequest, sim: SimulatorState, knobs: Knobs, sse: bool) -> Response:
    reply = build_reply(call.reply, knobs, sim.config.word_cap)
    response_id = new_id("", 11)
    if call.stream and not sse:
        fragments = stream_fragments(reply, call.model, response_id, sim.config.words_per_chunk)
        return Response(json_array(fragments), media_type="application/json; charset=UTF-8")
    if call.stream:
        events = stream_events(reply, call.model, response_id, sim.config.words_per_chunk)
        body = paced_events(events, knobs, partial(_stream_error_event, call.model))
        return StreamingResponse(body, headers=_SSE_HEADERS, media_type="text/event-stream")
    payload = orjson.dumps(response_dict(reply, call.model, response_id))
    if knobs.break_after_chunks is not None:
        return StreamingResponse(truncated_body(payload), media_type="application/json; charset=UTF-8")
    return Response(payload, media_type="application/json; charset=UTF-8")


async def _generate(request: Request, stream: bool) -> Response:
    sim: SimulatorState = request.app.state.sim
    try:
        model = _check_call(request)
        headers = header_knobs(request)
        call = parse_generate_request(await request.body(), model, stream)
    except KnobError as exc:
        return _error(GoogleError(str(exc)))
    except GoogleError as exc:
        return _error(exc)
    knobs = sim.effective_knobs(model, headers)
    sim.count_request(model, stream, knobs)
    faulted = await _faulted(request, sim, model, knobs)
    if faulted is not None:
        return faulted
    sse = request.query_params.get("alt") == "sse"
    if not (stream and sse):
        await sleep_ms(knobs.latency_ms)
    return _generated(call, sim, knobs, sse)


async def generate_content(request: Request) -> Response:
    return await _generate(request, stream=False)


async def stream_generate_content(request: Request) -> Response:
    return await _generate(request, stream=True)


async def _embed(request: Request, batch: bool) -> Response:
    sim: SimulatorState = request.app.state.sim
    try:
        model = _check_call(request)
        headers = header_knobs(request)
        items = parse_embed_request(await request.body(), model, batch)
    except KnobError as exc:
        return _error(GoogleError(str(exc)))
    except GoogleError as exc:
        return _error(exc)
    knobs = sim.effective_knobs(model, headers)
    sim.count_request(model, False, knobs)
    faulted = await _faulted(request, sim, model, knobs)
    if faulted is not None:
        return faulted
    await sleep_ms(knobs.latency_ms)
    vectors = [{"values": embedding(item.text, item.dimensions)} for item in items]
    return _json({"embeddings": vectors} if batch else {"embedding": vectors[0]})


async def embed_content(request: Request) -> Response:
    return await _embed(request, batch=False)


async def batch_embed_contents(request: Request) -> Response:
    return await _embed(request, batch=True)


def routes() -> list[Route]:
    return [
        Route("/{version}/models/{model}:generateContent", generate_content, methods=["POST"]),
        Route("/{version}/models/{model}:streamGenerateContent", stream_generate_content, methods=["POST"]),
        Route("/{version}/models/{model}:embedContent", embed_content, methods=["POST"]),
        Route("/{version}/models/{model}:batchEmbedContents", batch_embed_contents, methods=["POST"]),
    ]
