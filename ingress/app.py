"""The ASGI app: OpenAI's ``/v1/chat/completions``, ``/v1/embeddings`` and ``/v1/models``, and
Anthropic's ``/v1/messages``, over the Kafka pipeline.

A request is authenticated, validated, published as a request event and answered from the reply
topic: JSON, or Server-Sent Events for ``stream: true``. Every error is in the API's own shape
(OpenAI's, or Anthropic's on ``/v1/messages``) with its status; a request that gets no reply
before its deadline gets a 504, never a hang. Each reply carries ``x-request-id`` and
``x-turnout-gateway-ms`` (time spent in the gateway, upstream time excluded).

Streams: the response starts only once the first event is back, so an error before the first
chunk (a refused key, a provider down on every deployment) is a plain HTTP error with its status.
An error after chunks were sent ends the stream with an error event (OpenAI:
``data: {"error": {...}}`` and no ``[DONE]``; Anthropic: ``event: error``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import struct
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ingress.anthropic_request import parse_messages_request
from ingress.anthropic_response import AnthropicStreamWriter, anthropic_error_body, message_body
from ingress.auth import KeyRing, bearer_token
from ingress.cache_headers import cache_control_from_headers, cache_reply_headers
from ingress.feedback import FeedbackDesk, parse_feedback
from ingress.openai_request import parse_chat_request, parse_embeddings_request
from ingress.openai_response import SSE_DONE, chunk_body, chunk_delta, completion_body, sse, usage_body
from ingress.openapi import openapi_document
from schemas.codec import EventCodec
from schemas.config import ConfigError, TurnoutConfig
from schemas.errors import InvalidRequest, PayloadTooLarge, TurnoutError, openai_error_body
from schemas.events import ChatRequest, ChunkEvent, ConfigEvent, EmbeddingsResponse, ErrorInfo, ReplyEvent
from streams.follow import follow_topic
from streams.invoker import now_us
from streams.metrics import Metrics
from streams.reload import config_version, needs_restart, newer_config
from streams.stages.route import check_model_allowed
from streams.tracing import new_trace_id, parse_traceparent, request_span_id, traceparent
from turnout.client import ReplyStream, TurnoutClient

__all__ = ["build_ingress"]

log = logging.getLogger(__name__)

ErrorShape = Callable[[ErrorInfo], dict[str, Any]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_response(
    info: ErrorInfo, headers: dict[str, str] | None = None, shape: ErrorShape = openai_error_body
) -> Response:
    headers = dict(headers or {})
    if info.retry_after_s is not None:
        headers["retry-after"] = str(max(1, round(info.retry_after_s)))
    if info.limit_kind is not None and info.limit is not None:  # the gateway's own rate limit
        headers[f"x-ratelimit-limit-{info.limit_kind}"] = str(info.limit)
        headers[f"x-ratelimit-remaining-{info.limit_kind}"] = "0"
        headers[f"x-ratelimit-reset-{info.limit_kind}"] = f"{info.retry_after_s or 0:.0f}s"
    return _json(shape(info), info.status, headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return bytes(body)


def _decode_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None


@dataclass(frozen=True, slots=True)
class _Started:
    """A request on its way: its id, its replies, and the first event back."""

    request_id: str
    replies: ReplyStream
    first: ChunkEvent | ReplyEvent
    started: float
    trace_id: str

    def headers(self) -> dict[str, str]:
        headers = {"x-request-id": self.request_id}
        headers["traceparent"] = traceparent(self.trace_id, request_span_id(self.request_id))
        if isinstance(self.first, ReplyEvent):
            total_ms = (time.perf_counter() - self.started) * 1000
            headers["x-turnout-gateway-ms"] = f"{max(0.0, total_ms - self.first.upstream_us / 1000):.2f}"
            headers.update(cache_reply_headers(self.first.cache))
        return headers


FOLLOW_RETRY_S = 5.0
READY_CACHE_S = 1.0  # how long a /readyz answer is reused


class Ingress:
    def __init__(self, config: TurnoutConfig, client: TurnoutClient) -> None:
        self.config = config
        self.version = config_version(config)
        self.read_at_us = now_us()  # a config published before this process read its file is older
        self.client = client
        self.keys = KeyRing(config)
        self.feedback_desk = FeedbackDesk(config)

    def replace_config(self, config: TurnoutConfig, version: str | None = None) -> None:
        """A reloaded config: its key ring is built first (a bad key secret raises, nothing changes),
        then both are swapped with no await between, so a request sees the old pair or the new."""
        keys = KeyRing(config)
        self.config, self.keys = config, keys
        self.version = version or config_version(config)

    def take_up(self, event: object) -> bool:
        """A config another gateway's admin API published on the config topic (``streams.reload``):
        taken up if it is newer than this process's and needs no restart; whether it was."""
        if not isinstance(event, ConfigEvent):
            return False
        try:
            fresh = newer_config(event, self.version, self.read_at_us)
            if fresh is None:
                return False
            blocked = needs_restart(self.config, fresh)
            if blocked:
                log.error(
                    "config %s changes %s: restart to take it up; keeping %s", event.version, blocked, self.version
                )
                return False
            self.replace_config(fresh, event.version)
        except (ConfigError, TurnoutError) as exc:  # a bad edit, a key secret this host cannot read
            log.error("config %s cannot be taken up; keeping %s: %s", event.version, self.version, exc)
            return False
        log.info("took up config %s from %s", event.version, event.source or "the admin API")
        return True

    async def _start(self, request: Request, parse: Callable[[Any], Any]) -> tuple[Any, _Started]:
        """Authenticate, read and validate the body, publish the request, wait for the first event."""
        started = time.perf_counter()
        config, keys = self.config, self.keys  # one config for the whole request, whatever a reload does
        secret = bearer_token(request.headers.get("authorization"), request.headers.get("x-api-key"))
        caller, _ = keys.authenticate(secret, request.headers.get("x-turnout-feature"))
        parsed = parse(_decode_json(await _read_body(request, config.gateway.max_body_bytes)))
        request.state.model = parsed.model  # for the metrics
        check_model_allowed(config, caller.key_id, parsed.model)
        timeout_s = config.gateway.request_timeout_s
        trace_id, parent = parse_traceparent(request.headers.get("traceparent")) or (new_trace_id(), "")
        common: dict[str, Any] = {
            "timeout_s": timeout_s,
            "source": "http",
            "trace_id": trace_id,
            "parent_span_id": parent,
        }
        if isinstance(parsed, ChatRequest):
            control = cache_control_from_headers(request.headers)
            event = self.client.new_request(parsed, caller, cache_control=control, **common)
        else:  # embeddings travel beside an empty chat request
            chat = ChatRequest(model=parsed.model, messages=[])
            event = self.client.new_request(chat, caller, embeddings=parsed, **common)
        replies = await self.client.submit(event)
        return parsed, _Started(event.request_id, replies, await replies.next(), started, trace_id)

    # -- OpenAI ----------------------------------------------------------------------------------
    async def chat_completions(self, request: Request) -> Response:
        chat, run = await self._start(request, parse_chat_request)
        first, headers = run.first, run.headers()
        created = int(time.time())
        completion_id = f"chatcmpl-{run.request_id}"
        if isinstance(first, ReplyEvent):
            if first.error is not None:
                return error_response(first.error, headers)
            assert first.response is not None
            if not chat.stream:
                return _json(completion_body(completion_id, chat.model, created, first.response), headers=headers)
        stream = self._openai_sse(run, completion_id, chat.model, created, chat.include_usage)
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"}
        )

    async def _openai_sse(
        self, run: _Started, completion_id: str, model: str, created: int, include_usage: bool
    ) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse(chunk_body(completion_id, model, created, delta, finish, include_usage=include_usage))

        try:
            yield chunk({"role": "assistant", "content": ""})
            event = run.first
            while isinstance(event, ChunkEvent):
                delta = chunk_delta(event)
                if delta:
                    yield chunk(delta)
                event = await run.replies.next()
            if event.error is not None:
                yield sse(openai_error_body(event.error))
                return
            assert event.response is not None
            if isinstance(run.first, ReplyEvent) and event.response.content:
                yield chunk({"content": event.response.content})  # the whole reply came at once
            yield chunk({}, event.response.finish_reason)
            if include_usage:
                yield sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": usage_body(event.response.usage),
                    }
                )
            yield SSE_DONE
        finally:
            run.replies.close()

    async def embeddings(self, request: Request) -> Response:
        parsed, run = await self._start(request, parse_embeddings_request)
        reply = run.first if isinstance(run.first, ReplyEvent) else await run.replies.reply()
        if reply.error is not None:
            return error_response(reply.error, run.headers())
        assert reply.embeddings is not None
        return _json(_embeddings_body(parsed.model, reply.embeddings, parsed.encoding_format), headers=run.headers())

    async def models(self, request: Request) -> Response:
        secret = bearer_token(request.headers.get("authorization"), request.headers.get("x-api-key"))
        _, key = self.keys.authenticate(secret)
        names = [m for m in self.config.models if key.models is None or m in key.models]
        return _json(
            {
                "object": "list",
                "data": [{"id": name, "object": "model", "created": 0, "owned_by": "turnout"} for name in names],
            }
        )

    async def feedback(self, request: Request) -> Response:
        secret = bearer_token(request.headers.get("authorization"), request.headers.get("x-api-key"))
        caller, _ = self.keys.authenticate(secret, request.headers.get("x-turnout-feature"))
        body = _decode_json(await _read_body(request, 64 * 1024))
        rating = parse_feedback(body, caller, int(time.time() * 1e6))
        await self.feedback_desk.check_owner(rating)
        await self.client.publish(self.client.topics.feedback, rating.request_id, rating)
        return _json(
            {"object": "feedback", "id": rating.feedback_id, "request_id": rating.request_id, "score": rating.score}
        )

    # -- Anthropic -------------------------------------------------------------------------------
    async def messages(self, request: Request) -> Response:
        chat, run = await self._start(request, parse_messages_request)
        first, headers = run.first, run.headers()
        message_id = f"msg_{run.request_id}"
        if isinstance(first, ReplyEvent):
            if first.error is not None:
                return error_response(first.error, headers, anthropic_error_body)
            assert first.response is not None
            if not chat.stream:
                return _json(message_body(message_id, chat.model, first.response), headers=headers)
        writer = AnthropicStreamWriter(message_id, chat.model)
        return StreamingResponse(
            self._anthropic_sse(run, writer),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )

    async def _anthropic_sse(self, run: _Started, writer: AnthropicStreamWriter) -> AsyncIterator[bytes]:
        try:
            yield writer.start()
            event = run.first
            while isinstance(event, ChunkEvent):
                yield writer.chunk(event)
                event = await run.replies.next()
            if event.error is not None:
                yield writer.error(event.error)
                return
            assert event.response is not None
            yield writer.finish(event.response, streamed=isinstance(run.first, ChunkEvent))
        finally:
            run.replies.close()


def _embeddings_body(model: str, result: EmbeddingsResponse, encoding: str | None) -> dict[str, Any]:
    def encode(vector: list[float]) -> Any:
        if encoding == "base64":  # what the openai SDK asks for: little-endian float32, base64
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return vector

    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": encode(v)} for i, v in enumerate(result.vectors)],
        "model": model,
        "usage": {
            "prompt_tokens": result.usage.prompt_tokens,
            "total_tokens": result.usage.total_tokens or result.usage.prompt_tokens,
        },
    }


def build_ingress(config: TurnoutConfig, client: TurnoutClient) -> Starlette:
    """The ASGI app; it starts ``client`` when the server starts and stops it at shutdown."""
    ingress = Ingress(config, client)
    metrics = Metrics()
    in_flight = [0]
    metrics.gauge_from("turnout_http_in_flight", lambda: [({}, in_flight[0])])
    metrics.gauge_from("turnout_config_info", lambda: [({"version": ingress.version}, 1.0)])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await client.start()
        kafka = config.kafka
        # every gateway follows the config topic, so a reload through one gateway's admin API
        # reaches the others behind the same load balancer (and the workers, which follow it too)

        async def follow_config() -> None:
            while True:  # a broker that drops the follower (an outage at start, say) does not end it
                try:
                    await follow_topic(
                        kafka.bootstrap, client.topics.config, kafka.partitions, EventCodec(), ingress.take_up
                    )
                except Exception as exc:
                    log.warning("following the config topic failed (%s); again in %.0f s", exc, FOLLOW_RETRY_S)
                    await asyncio.sleep(FOLLOW_RETRY_S)

        follower = asyncio.create_task(follow_config())
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await follower
            await client.stop()
            await ingress.feedback_desk.close()

    def guarded(handler: Any, shape: ErrorShape = openai_error_body) -> Any:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            in_flight[0] += 1
            try:
                response: Response = await handler(request)
            except TurnoutError as exc:
                response = error_response(exc.to_info(), shape=shape)
            except Exception:
                log.exception("unexpected error in %s", request.url.path)
                response = error_response(TurnoutError("Internal error in the gateway.").to_info(), shape=shape)
            finally:
                in_flight[0] -= 1
            route = getattr(request.state, "model", "") or "-"
            path = request.url.path
            metrics.inc("turnout_http_requests_total", path=path, route=route, status=str(response.status_code))
            metrics.observe(
                "turnout_http_request_duration_seconds", time.perf_counter() - started, path=path, route=route
            )
            return response

        return endpoint

    document = openapi_document()

    async def serve_openapi(request: Request) -> Response:
        return _json(document)

    async def serve_metrics(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    readiness: list[tuple[float, str | None]] = []  # the last check: (monotonic time, problem)

    async def readyz(request: Request) -> Response:
        """Ready: Kafka answers and the topics this gateway writes and reads have leaders. The
        answer is kept for a second, so probes in a burst cost the broker one metadata request."""
        if not readiness or time.monotonic() - readiness[0][0] > READY_CACHE_S:
            readiness[:] = [(time.monotonic(), await client.kafka_problem())]
        problem = readiness[0][1]
        problems = [problem] if problem else []
        return _json({"ready": not problems, "problems": problems}, status=503 if problems else 200)

    def shape_for(request: Request) -> ErrorShape:
        """Anthropic's error shape under its API's path, OpenAI's everywhere else."""
        return anthropic_error_body if request.url.path.startswith("/v1/messages") else openai_error_body

    async def not_found(request: Request, exc: Exception) -> Response:
        info = ErrorInfo(
            status=404, type="invalid_request_error", message=f"Unknown path {request.url.path}.", code="unknown_url"
        )
        return error_response(info, shape=shape_for(request))

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        info = ErrorInfo(
            status=405,
            type="invalid_request_error",
            message=f"Method {request.method} is not allowed on {request.url.path}.",
        )
        return error_response(info, shape=shape_for(request))

    routes = [
        Route("/v1/chat/completions", guarded(ingress.chat_completions), methods=["POST"]),
        Route("/v1/embeddings", guarded(ingress.embeddings), methods=["POST"]),
        Route("/v1/models", guarded(ingress.models), methods=["GET"]),
        Route("/v1/feedback", guarded(ingress.feedback), methods=["POST"]),
        Route("/v1/messages", guarded(ingress.messages, anthropic_error_body), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", serve_metrics, methods=["GET"]),
        Route("/openapi.json", serve_openapi, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed}, lifespan=lifespan)
    app.state.ingress = ingress
    app.state.metrics = metrics
    return app
