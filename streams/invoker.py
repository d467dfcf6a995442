"""The invoke stage's work: call the routed deployment through its adapter, stream chunks to the
client, and record every attempt and the usage.

A retriable error before anything reached the client moves on to the next deployment of the
route's chain; once a chunk has been sent, the error ends the stream (the client sees an error
event). Every attempt is bounded by the request's deadline. Retries with backoff and circuit
breakers come with the resilience issue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from schemas.config import ProviderConfig, TurnoutConfig, provider_secret
from schemas.errors import GatewayTimeout, TurnoutError
from schemas.events import (
    Attempt,
    AttemptEvent,
    ChatResponse,
    ChunkEvent,
    EmbeddingsResponse,
    StageEvent,
    Usage,
    UsageEvent,
)
from streams.emitter import Emitter
from streams.providers.accumulate import StreamAccumulator
from streams.providers.base import HttpRequestSpec, ProviderAdapter, ProviderEndpoint, StreamDelta, StreamParser
from streams.providers.registry import adapter_for
from streams.providers.transport import ProviderTransport
from streams.stages.cost import cost_usd
from streams.topics import TopicNames

__all__ = ["InvokeOutcome", "Invoker", "endpoint_for", "now_us"]


def now_us() -> int:
    return time.time_ns() // 1000


def endpoint_for(provider: ProviderConfig) -> ProviderEndpoint:
    """The provider's address and credentials, secrets read from the environment once, at start."""
    return ProviderEndpoint(
        base_url=provider.base_url,
        api_key=provider_secret(provider.api_key_env),
        region=provider.region,
        aws_access_key_id=provider_secret(provider.aws_access_key_id_env),
        aws_secret_access_key=provider_secret(provider.aws_secret_access_key_env),
        aws_session_token=provider_secret(provider.aws_session_token_env),
        api_version=provider.api_version,
    )


@dataclass
class _ChunkBuffer:
    """Text and tool-call deltas waiting to go to the client as one chunk event."""

    text: str = ""
    tools: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    last_flush: float = 0.0
    ttft_us: int | None = None

    def add(self, delta: StreamDelta) -> None:
        self.text += delta.content
        for tc in delta.tool_calls:
            entry: dict[str, Any] = {"index": tc.index}
            if tc.id:
                entry.update(id=tc.id, type="function")
            function: dict[str, str] = {"arguments": tc.arguments}
            if tc.name:
                function["name"] = tc.name
            entry["function"] = function
            self.tools.append(entry)

    @property
    def pending(self) -> bool:
        return bool(self.text or self.tools)


@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    """The event with its attempts (and, on success, its response), and the error if all failed."""

    event: StageEvent
    error: TurnoutError | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    deployment: str
    provider: str
    upstream_model: str
    adapter: ProviderAdapter
    endpoint: ProviderEndpoint


class Invoker:
    def __init__(
        self,
        config: TurnoutConfig,
        transport: ProviderTransport,
        topics: TopicNames,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self._config = config
        self._transport = transport
        self._topics = topics
        self._clock = clock
        self._endpoints = {name: endpoint_for(p) for name, p in config.providers.items()}

    def _target(self, deployment_name: str) -> _Target:
        deployment = self._config.deployments[deployment_name]
        provider = self._config.providers[deployment.provider]
        return _Target(
            deployment_name,
            deployment.provider,
            deployment.model,
            adapter_for(provider.kind),
            self._endpoints[deployment.provider],
        )

    async def invoke(self, event: StageEvent, emitter: Emitter) -> InvokeOutcome:
        """Try the route's deployments in order until one answers."""
        assert event.route is not None, "invoke runs after route"
        attempts = list(event.attempts)
        last_error: TurnoutError | None = None
        sent: list[Awaitable[Any]] = []
        buffer = _ChunkBuffer()
        for deployment_name in [event.route.deployment, *event.route.fallbacks]:
            target = self._target(deployment_name)
            started = self._clock()
            try:
                result = await self._attempt_within_deadline(event, target, buffer, emitter, sent, started)
            except TurnoutError as exc:
                attempts.append(self._attempt(target, started, exc, buffer.ttft_us))
                await self._record_attempt(event, emitter, attempts[-1], len(attempts))
                last_error = exc
                if buffer.sent or not exc.retriable:
                    break
                continue
            attempts.append(self._attempt(target, started, None, buffer.ttft_us))
            await self._record_attempt(event, emitter, attempts[-1], len(attempts))
            usage = result.usage
            await self._record_usage(event, emitter, target, result.upstream_model, usage)
            if sent:
                await asyncio.gather(*sent)
            route = event.route
            if deployment_name != route.deployment:
                route = replace(
                    route,
                    deployment=deployment_name,
                    provider=target.provider,
                    upstream_model=target.upstream_model,
                    reason="fallback",
                )
            done = replace(event, route=route, attempts=attempts, streamed_chunks=buffer.sent or None)
            if isinstance(result, EmbeddingsResponse):
                return InvokeOutcome(replace(done, embeddings=result))
            return InvokeOutcome(replace(done, response=result))
        if sent:
            await asyncio.gather(*sent)
        assert last_error is not None
        return InvokeOutcome(replace(event, attempts=attempts, streamed_chunks=buffer.sent or None), last_error)

    async def _attempt_within_deadline(
        self,
        event: StageEvent,
        target: _Target,
        buffer: _ChunkBuffer,
        emitter: Emitter,
        sent: list[Awaitable[Any]],
        started: int,
    ) -> ChatResponse | EmbeddingsResponse:
        remaining_s = (event.envelope.deadline_at_us - started) / 1e6
        if remaining_s <= 0:
            raise GatewayTimeout("The request's deadline passed before the provider answered.")
        envelope = event.envelope
        try:
            async with asyncio.timeout(remaining_s):
                if envelope.embeddings is not None:
                    spec = target.adapter.build_embeddings_request(
                        envelope.embeddings, target.upstream_model, target.endpoint
                    )
                    body = await self._send(target, spec)
                    return target.adapter.parse_embeddings_response(body, target.upstream_model)
                spec = target.adapter.build_request(envelope.request, target.upstream_model, target.endpoint)
                if envelope.request.stream:
                    return await self._stream(event, target, spec, buffer, emitter, sent, started)
                body = await self._send(target, spec)
                return target.adapter.parse_response(body, target.upstream_model)
        except TimeoutError:
            raise GatewayTimeout("The request's deadline passed before the provider answered.") from None

    def _attempt(self, target: _Target, started: int, error: TurnoutError | None, ttft_us: int | None) -> Attempt:
        return Attempt(
            deployment=target.deployment,
            provider=target.provider,
            ok=error is None,
            started_at_us=started,
            latency_us=max(0, self._clock() - started),
            error_class=type(error).__name__ if error is not None else None,
            http_status=error.upstream_status if error is not None else None,
            ttft_us=ttft_us,
        )

    async def _send(self, target: _Target, spec: HttpRequestSpec) -> bytes:
        reply = await self._transport.send(target.provider, spec)
        if reply.status >= 400:
            raise target.adapter.parse_error(reply.status, reply.headers, reply.body)
        return reply.body

    async def _stream(
        self,
        event: StageEvent,
        target: _Target,
        spec: HttpRequestSpec,
        buffer: _ChunkBuffer,
        emitter: Emitter,
        sent: list[Awaitable[Any]],
        started: int,
    ) -> ChatResponse:
        whole = StreamAccumulator()
        async with self._transport.stream(target.provider, spec) as (head, body):
            if head.status >= 400:
                raise target.adapter.parse_error(head.status, head.headers, head.body)
            parser = target.adapter.stream_parser()
            try:
                await self._pump(event, target, body, parser, whole, buffer, emitter, sent, started)
            except TurnoutError:
                if buffer.sent and buffer.pending:  # the client keeps what arrived before the error
                    sent.append(await self._flush(event, target, buffer, emitter))
                raise
        if buffer.pending:
            sent.append(await self._flush(event, target, buffer, emitter))
        return whole.response(target.upstream_model)

    async def _pump(
        self,
        event: StageEvent,
        target: _Target,
        body: Any,
        parser: StreamParser,
        whole: StreamAccumulator,
        buffer: _ChunkBuffer,
        emitter: Emitter,
        sent: list[Awaitable[Any]],
        started: int,
    ) -> None:
        """Read the provider's stream, sending coalesced chunks to the client as they fill."""
        topology = self._config.topology
        loop = asyncio.get_running_loop()
        async for data in body:
            for delta in parser.feed(data):
                whole.add(delta)
                buffer.add(delta)
                if buffer.ttft_us is None and (delta.content or delta.tool_calls):
                    buffer.ttft_us = self._clock() - started
            due = (loop.time() - buffer.last_flush) * 1000 >= topology.chunk_flush_ms
            if (
                buffer.tools
                or len(buffer.text) >= topology.chunk_flush_chars
                or (buffer.text and (buffer.sent == 0 or due))
            ):
                sent.append(await self._flush(event, target, buffer, emitter))
        parser.close()

    async def _flush(
        self, event: StageEvent, target: _Target, buffer: _ChunkBuffer, emitter: Emitter
    ) -> Awaitable[Any]:
        chunk = ChunkEvent(
            request_id=event.envelope.request_id,
            seq=buffer.sent,
            deployment=target.deployment,
            content=buffer.text,
            tool_calls_json=orjson.dumps(buffer.tools).decode() if buffer.tools else None,
        )
        buffer.sent += 1
        buffer.text = ""
        buffer.tools = []
        buffer.last_flush = asyncio.get_running_loop().time()
        return await emitter.send(event.envelope.reply_to, event.envelope.request_id, chunk)

    async def _record_attempt(self, event: StageEvent, emitter: Emitter, attempt: Attempt, number: int) -> None:
        envelope = event.envelope
        await emitter.send(
            self._topics.attempts,
            envelope.request_id,
            AttemptEvent(
                request_id=envelope.request_id,
                caller=envelope.caller,
                logical_model=envelope.request.model,
                attempt_no=number,
                attempt=attempt,
            ),
        )

    async def _record_usage(
        self, event: StageEvent, emitter: Emitter, target: _Target, upstream_model: str, usage: Usage
    ) -> None:
        envelope = event.envelope
        await emitter.send(
            self._topics.usage,
            envelope.request_id,
            UsageEvent(
                request_id=envelope.request_id,
                caller=envelope.caller,
                at_us=self._clock(),
                logical_model=envelope.request.model,
                deployment=target.deployment,
                upstream_model=upstream_model,
                usage=usage,
                cost_usd=cost_usd(usage, self._config.deployments[target.deployment]),
            ),
        )
