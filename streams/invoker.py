"""The invoke stage's work: call the routed deployment through its adapter, stream chunks to the
client, and record every attempt and the usage.

A retriable error before anything reached the client moves on to the next deployment of the
route's chain; once a chunk has been sent, the error ends the stream (the client sees an error
event). Retries with backoff and circuit breakers come with the resilience issue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from schemas.config import TurnoutConfig, provider_api_key
from schemas.errors import GatewayTimeout, TurnoutError
from schemas.events import (
    Attempt,
    AttemptEvent,
    ChatResponse,
    ChunkEvent,
    RouteDecision,
    StageEvent,
    ToolCall,
    Usage,
    UsageEvent,
)
from streams.emitter import Emitter
from streams.providers.base import ProviderAdapter, StreamDelta
from streams.providers.openai import OpenAIAdapter
from streams.providers.transport import ProviderTransport
from streams.stages.cost import cost_usd
from streams.topics import TopicNames

__all__ = ["ADAPTERS", "InvokeOutcome", "Invoker", "now_us"]

ADAPTERS: dict[str, ProviderAdapter] = {"openai": OpenAIAdapter()}


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass
class _StreamState:
    """What a streamed reply has accumulated so far."""

    content: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Usage | None = None
    response_id: str = ""
    chunks_sent: int = 0
    pending_text: str = ""
    pending_tools: list[dict[str, Any]] = field(default_factory=list)
    last_flush: float = 0.0
    ttft_us: int | None = None

    def add(self, delta: StreamDelta) -> None:
        self.content.append(delta.content)
        self.pending_text += delta.content
        for tc in delta.tool_calls:
            call = self.tool_calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = tc.id or call["id"]
            call["name"] = tc.name or call["name"]
            call["arguments"] += tc.arguments
            entry: dict[str, Any] = {"index": tc.index}
            if tc.id:
                entry.update(id=tc.id, type="function")
            function: dict[str, str] = {}
            if tc.name:
                function["name"] = tc.name
            function["arguments"] = tc.arguments
            entry["function"] = function
            self.pending_tools.append(entry)
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.usage = delta.usage or self.usage
        self.response_id = delta.response_id or self.response_id

    def response(self, upstream_model: str) -> ChatResponse:
        calls = [ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(self.tool_calls.items())]
        text = "".join(self.content)
        return ChatResponse(
            id=self.response_id,
            content=text if text or not calls else None,
            tool_calls=calls,
            finish_reason=self.finish_reason or "stop",
            usage=self.usage or Usage(),
            upstream_model=upstream_model,
            created=int(time.time()),
        )


@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    """The event with its attempts (and, on success, its response), and the error if all failed."""

    event: StageEvent
    error: TurnoutError | None = None


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
        self._api_keys = {name: provider_api_key(p) for name, p in config.providers.items()}

    def _candidates(self, route: RouteDecision) -> list[str]:
        return [route.deployment, *route.fallbacks]

    async def invoke(self, event: StageEvent, emitter: Emitter) -> InvokeOutcome:
        """Try the route's deployments in order until one answers."""
        assert event.route is not None, "invoke runs after route"
        attempts = list(event.attempts)
        last_error: TurnoutError | None = None
        sent_chunks: list[Awaitable[Any]] = []
        for deployment_name in self._candidates(event.route):
            deployment = self._config.deployments[deployment_name]
            provider = self._config.providers[deployment.provider]
            started = self._clock()
            state = _StreamState()
            try:
                spec = ADAPTERS[provider.kind].build_request(
                    event.envelope.request, deployment.model, provider.base_url, self._api_keys[deployment.provider]
                )
                remaining_s = (event.envelope.deadline_at_us - started) / 1e6
                if remaining_s <= 0:
                    raise GatewayTimeout("The request's deadline passed before the provider answered.")
                try:
                    async with asyncio.timeout(remaining_s):
                        if event.envelope.request.stream:
                            response = await self._stream(event, deployment_name, spec, state, emitter, sent_chunks)
                        else:
                            response = await self._call(deployment.provider, provider.kind, spec, deployment.model)
                except TimeoutError:
                    raise GatewayTimeout("The request's deadline passed before the provider answered.") from None
            except TurnoutError as exc:
                attempt = self._attempt(deployment_name, deployment.provider, started, exc, state.ttft_us)
                attempts.append(attempt)
                await self._record_attempt(event, emitter, attempt, len(attempts))
                last_error = exc
                if state.chunks_sent or not exc.retriable:
                    break
                continue
            attempt = self._attempt(deployment_name, deployment.provider, started, None, state.ttft_us)
            attempts.append(attempt)
            await self._record_attempt(event, emitter, attempt, len(attempts))
            await self._record_usage(event, emitter, deployment_name, response)
            if sent_chunks:
                await asyncio.gather(*sent_chunks)
            route = (
                event.route
                if deployment_name == event.route.deployment
                else replace(
                    event.route,
                    deployment=deployment_name,
                    provider=deployment.provider,
                    upstream_model=deployment.model,
                    reason="fallback",
                )
            )
            return InvokeOutcome(
                replace(
                    event, route=route, response=response, attempts=attempts, streamed_chunks=state.chunks_sent or None
                )
            )
        if sent_chunks:
            await asyncio.gather(*sent_chunks)
        assert last_error is not None
        return InvokeOutcome(replace(event, attempts=attempts, streamed_chunks=len(sent_chunks) or None), last_error)

    def _attempt(
        self, deployment: str, provider: str, started: int, error: TurnoutError | None, ttft_us: int | None
    ) -> Attempt:
        return Attempt(
            deployment=deployment,
            provider=provider,
            ok=error is None,
            started_at_us=started,
            latency_us=max(0, self._clock() - started),
            error_class=type(error).__name__ if error is not None else None,
            http_status=error.upstream_status if error is not None else None,
            ttft_us=ttft_us,
        )

    async def _call(self, provider: str, kind: str, spec: Any, upstream_model: str) -> ChatResponse:
        reply = await self._transport.send(provider, spec)
        adapter = ADAPTERS[kind]
        if reply.status >= 400:
            raise adapter.parse_error(reply.status, reply.headers, reply.body)
        return adapter.parse_response(reply.body, upstream_model)

    async def _stream(
        self,
        event: StageEvent,
        deployment_name: str,
        spec: Any,
        state: _StreamState,
        emitter: Emitter,
        sent: list[Awaitable[Any]],
    ) -> ChatResponse:
        deployment = self._config.deployments[deployment_name]
        kind = self._config.providers[deployment.provider].kind
        adapter = ADAPTERS[kind]
        started = self._clock()
        async with self._transport.stream(deployment.provider, spec) as (head, body):
            if head.status >= 400:
                raise adapter.parse_error(head.status, head.headers, head.body)
            parser = adapter.stream_parser()
            try:
                await self._pump(event, deployment_name, body, parser, state, emitter, sent, started)
            except TurnoutError:
                if state.chunks_sent and state.pending_text:  # the client keeps what arrived before the error
                    sent.append(await self._flush(event, deployment_name, state, emitter))
                raise
        if state.pending_text or state.pending_tools:
            sent.append(await self._flush(event, deployment_name, state, emitter))
        return state.response(deployment.model)

    async def _pump(
        self,
        event: StageEvent,
        deployment_name: str,
        body: Any,
        parser: Any,
        state: _StreamState,
        emitter: Emitter,
        sent: list[Awaitable[Any]],
        started: int,
    ) -> None:
        """Read the provider's stream, sending coalesced chunks as they fill."""
        topology = self._config.topology
        async for data in body:
            for delta in parser.feed(data):
                state.add(delta)
                if state.ttft_us is None and (delta.content or delta.tool_calls):
                    state.ttft_us = self._clock() - started
            loop_now = asyncio.get_running_loop().time()
            due = (loop_now - state.last_flush) * 1000 >= topology.chunk_flush_ms
            if (
                state.pending_tools
                or len(state.pending_text) >= topology.chunk_flush_chars
                or (state.pending_text and (state.chunks_sent == 0 or due))
            ):
                sent.append(await self._flush(event, deployment_name, state, emitter))
        parser.close()

    async def _flush(self, event: StageEvent, deployment: str, state: _StreamState, emitter: Emitter) -> Awaitable[Any]:
        chunk = ChunkEvent(
            request_id=event.envelope.request_id,
            seq=state.chunks_sent,
            deployment=deployment,
            content=state.pending_text,
            tool_calls_json=orjson.dumps(state.pending_tools).decode() if state.pending_tools else None,
        )
        state.chunks_sent += 1
        state.pending_text = ""
        state.pending_tools = []
        state.last_flush = asyncio.get_running_loop().time()
        return await emitter.send(event.envelope.reply_to, event.envelope.request_id, chunk)

    async def _record_attempt(self, event: StageEvent, emitter: Emitter, attempt: Attempt, number: int) -> None:
        await emitter.send(
            self._topics.attempts,
            event.envelope.request_id,
            AttemptEvent(
                request_id=event.envelope.request_id,
                caller=event.envelope.caller,
                logical_model=event.envelope.request.model,
                attempt_no=number,
                attempt=attempt,
            ),
        )

    async def _record_usage(self, event: StageEvent, emitter: Emitter, deployment: str, response: ChatResponse) -> None:
        await emitter.send(
            self._topics.usage,
            event.envelope.request_id,
            UsageEvent(
                request_id=event.envelope.request_id,
                caller=event.envelope.caller,
                at_us=self._clock(),
                logical_model=event.envelope.request.model,
                deployment=deployment,
                upstream_model=response.upstream_model,
                usage=response.usage,
                cost_usd=cost_usd(response.usage, self._config.deployments[deployment]),
            ),
        )
