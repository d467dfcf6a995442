"""The ASGI app: OpenAI's ``/v1/chat/completions`` and ``/v1/models`` over the Kafka pipeline.

A request is authenticated, validated, published as a request event and answered from the reply
topic: JSON, or Server-Sent Events for ``stream: true``. Every error is in OpenAI's shape with its
status; a request that gets no reply before its deadline gets a 504, never a hang. Each reply
carries ``x-request-id`` and ``x-turnout-gateway-ms`` (time spent in the gateway, upstream time
excluded) so users can see the gateway's overhead.

Streams: the response starts only once the first event is back, so an error before the first
chunk (a refused key, a provider down on every deployment) is a plain HTTP error with its status.
An error after chunks were sent ends the stream with ``data: {"error": {...}}`` and no ``[DONE]``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ingress.auth import KeyRing, bearer_token
from ingress.openai_request import parse_chat_request
from ingress.openai_response import SSE_DONE, chunk_body, chunk_delta, completion_body, sse, usage_body
from schemas.config import TurnoutConfig
from schemas.errors import InvalidRequest, PayloadTooLarge, TurnoutError, openai_error_body
from schemas.events import ChunkEvent, ErrorInfo, ReplyEvent
from streams.stages.route import check_model_allowed
from turnout.client import ReplyStream, TurnoutClient

__all__ = ["build_ingress"]

log = logging.getLogger(__name__)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def error_response(info: ErrorInfo, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if info.retry_after_s is not None:
        headers["retry-after"] = str(max(1, round(info.retry_after_s)))
    return _json(openai_error_body(info), info.status, headers)


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


class Ingress:
    def __init__(self, config: TurnoutConfig, client: TurnoutClient) -> None:
        self.config = config
        self.client = client
        self.keys = KeyRing(config)

    async def chat_completions(self, request: Request) -> Response:
        started = time.perf_counter()
        secret = bearer_token(request.headers.get("authorization"), request.headers.get("x-api-key"))
        caller, _ = self.keys.authenticate(secret, request.headers.get("x-turnout-feature"))
        body = _decode_json(await _read_body(request, self.config.gateway.max_body_bytes))
        chat = parse_chat_request(body)
        check_model_allowed(self.config, caller.key_id, chat.model)
        event = self.client.new_request(chat, caller, timeout_s=self.config.gateway.request_timeout_s, source="http")
        replies = await self.client.submit(event)
        first = await replies.next()
        headers = {"x-request-id": event.request_id}
        created = int(time.time())
        completion_id = f"chatcmpl-{event.request_id}"
        if isinstance(first, ReplyEvent):
            headers["x-turnout-gateway-ms"] = _gateway_ms(first, started)
            if first.error is not None:
                return error_response(first.error, headers)
            assert first.response is not None
            if not chat.stream:
                return _json(completion_body(completion_id, chat.model, created, first.response), headers=headers)
        stream = self._sse(replies, first, completion_id, chat.model, created, chat.include_usage)
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"}
        )

    async def _sse(
        self,
        replies: ReplyStream,
        first: ChunkEvent | ReplyEvent,
        completion_id: str,
        model: str,
        created: int,
        include_usage: bool,
    ) -> AsyncIterator[bytes]:
        try:
            yield sse(
                chunk_body(
                    completion_id, model, created, {"role": "assistant", "content": ""}, include_usage=include_usage
                )
            )
            event = first
            while isinstance(event, ChunkEvent):
                delta = chunk_delta(event)
                if delta:
                    yield sse(chunk_body(completion_id, model, created, delta, include_usage=include_usage))
                event = await replies.next()
            if event.error is not None:
                yield sse(openai_error_body(event.error))
                return
            assert event.response is not None
            if isinstance(first, ReplyEvent) and event.response.content:
                # the whole reply arrived at once (no chunk events): send it as one delta
                yield sse(
                    chunk_body(
                        completion_id, model, created, {"content": event.response.content}, include_usage=include_usage
                    )
                )
            yield sse(
                chunk_body(completion_id, model, created, {}, event.response.finish_reason, include_usage=include_usage)
            )
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
            replies.close()

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


def _gateway_ms(reply: ReplyEvent, started: float) -> str:
    total_ms = (time.perf_counter() - started) * 1000
    return f"{max(0.0, total_ms - reply.upstream_us / 1000):.2f}"


def build_ingress(config: TurnoutConfig, client: TurnoutClient) -> Starlette:
    """The ASGI app; it starts ``client`` when the server starts and stops it at shutdown."""
    ingress = Ingress(config, client)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await client.start()
        try:
            yield
        finally:
            await client.stop()

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                response: Response = await handler(request)
                return response
            except TurnoutError as exc:
                return error_response(exc.to_info())
            except Exception:
                log.exception("unexpected error in %s", request.url.path)
                return error_response(TurnoutError("Internal error in the gateway.").to_info())

        return endpoint

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def not_found(request: Request, exc: Exception) -> Response:
        return error_response(
            ErrorInfo(
                status=404,
                type="invalid_request_error",
                message=f"Unknown path {request.url.path}.",
                code="unknown_url",
            )
        )

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return error_response(
            ErrorInfo(
                status=405,
                type="invalid_request_error",
                message=f"Method {request.method} is not allowed on {request.url.path}.",
            )
        )

    routes = [
        Route("/v1/chat/completions", guarded(ingress.chat_completions), methods=["POST"]),
        Route("/v1/models", guarded(ingress.models), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed}, lifespan=lifespan)
    app.state.ingress = ingress
    return app
