"""The invoke stage's work: call the routed deployment through its adapter, stream chunks to the
client, and record every attempt and the usage.

A retriable error before anything reached the client moves on to the next deployment of the
route's chain; once a chunk has been sent, the error ends the stream (the client sees an error
event). Every attempt is bounded by the request's deadline. Retries with backoff and circuit
breakers come with the resilience issue.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from schemas.config import ProviderConfig, RetryConfig, TurnoutConfig
from schemas.credentials import provider_secret
from schemas.errors import AllDeploymentsFailed, CircuitOpen, GatewayTimeout, TurnoutError
from schemas.events import (
    Attempt,
    AttemptEvent,
    ChatResponse,
    ChunkEvent,
    EmbeddingsRequest,
    EmbeddingsResponse,
    StageEvent,
    Usage,
    UsageEvent,
)
from streams.breakers import BreakerBoard
from streams.emitter import Emitter
from streams.providers.accumulate import StreamAccumulator
from streams.providers.base import HttpRequestSpec, ProviderAdapter, ProviderEndpoint, StreamDelta, StreamParser
from streams.providers.registry import adapter_for
from streams.providers.transport import ProviderTransport
from streams.stages.cost import cost_usd
from streams.stages.retry import fallback_trigger, retry_delay_s
from streams.stages.stream_guard import StreamGuard
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
    context_window: int | None


@dataclass
class _Run:
    """One request's way through the invoke stage: its attempts and what reached the client."""

    event: StageEvent
    emitter: Emitter
    attempts: list[Attempt]
    buffer: _ChunkBuffer = field(default_factory=lambda: _ChunkBuffer())
    sent: list[Awaitable[Any]] = field(default_factory=list)
    guard: StreamGuard | None = None  # output guardrails on the stream as it passes


StreamGuardFactory = Callable[[StageEvent], Awaitable[StreamGuard | None]]


class Invoker:
    def __init__(
        self,
        config: TurnoutConfig,
        transport: ProviderTransport,
        topics: TopicNames,
        clock: Callable[[], int] = now_us,
        breakers: BreakerBoard | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config
        self._transport = transport
        self._topics = topics
        self._clock = clock
        self._breakers = breakers
        self._rng = rng or random.Random()
        self._endpoints = {name: endpoint_for(p) for name, p in config.providers.items()}
        self._stream_guard: StreamGuardFactory | None = None

    def guard_streams_with(self, factory: StreamGuardFactory) -> None:
        """Streams pass the output guardrails that ``factory`` makes for each request, chunk by chunk."""
        self._stream_guard = factory

    def _target(self, deployment_name: str) -> _Target:
        deployment = self._config.deployments[deployment_name]
        provider = self._config.providers[deployment.provider]
        return _Target(
            deployment_name,
            deployment.provider,
            deployment.model,
            adapter_for(provider.kind),
            self._endpoints[deployment.provider],
            deployment.context_window,
        )

    async def invoke(self, event: StageEvent, emitter: Emitter) -> InvokeOutcome:
        """Try the route's deployments in order, each with its retries, until one answers."""
        assert event.route is not None, "invoke runs after route"
        model = self._config.models[event.route.logical_model]
        run = _Run(event, emitter, list(event.attempts))
        if self._stream_guard is not None and event.envelope.request.stream and event.embeddings is None:
            run.guard = await self._stream_guard(event)
        last_error: TurnoutError | None = None
        context_above: int | None = None  # after a context overflow: only larger windows
        for name in [event.route.deployment, *event.route.fallbacks]:
            target = self._target(name)
            if context_above is not None and (target.context_window or 0) <= context_above:
                continue
            admission = await self._admission(run, target)
            if admission == "no":
                continue
            # a half-open probe is one try: its answer decides the breaker, not a retry's
            retry = model.retry if admission == "yes" else model.retry.model_copy(update={"max_tries": 1})
            result, error = await self._try_deployment(run, target, retry)
            if error is None:
                assert result is not None
                return await self._succeeded(run, target, result)
            last_error = error
            trigger = fallback_trigger(error)
            if run.buffer.sent or trigger not in model.fallback_on:
                break
            if trigger == "context_window":
                context_above = target.context_window or 0
        if run.sent:
            await asyncio.gather(*run.sent)
        failed = replace(event, attempts=run.attempts, streamed_chunks=run.buffer.sent or None)
        return InvokeOutcome(failed, self._final_error(event, run, last_error))

    @staticmethod
    def _final_error(event: StageEvent, run: _Run, last_error: TurnoutError | None) -> TurnoutError:
        tried = list(dict.fromkeys(a.deployment for a in run.attempts))
        if last_error is not None and (len(tried) <= 1 or run.buffer.sent):
            return last_error
        summary = ", ".join(f"{a.deployment}: {a.error_class}" for a in run.attempts if not a.ok)
        model = event.envelope.request.model
        if last_error is None:
            return CircuitOpen(f"Every deployment of `{model}` is unavailable (circuit open): {summary}.")
        return AllDeploymentsFailed(f"Every deployment of `{model}` failed: {summary}.")

    async def _admission(self, run: _Run, target: _Target) -> str:
        """``yes``, ``probe`` (this request is the half-open probe) or ``no`` (skipped, and recorded)."""
        if self._breakers is None:
            return "yes"
        await self._breakers.wait_loaded()
        now = self._clock()
        admission = self._breakers.admission(target.deployment, now)
        if admission == "yes" or (admission == "probe" and await self._breakers.take_probe(target.deployment)):
            return admission
        skipped = CircuitOpen(f"The circuit of {target.deployment} is open.")
        run.attempts.append(self._attempt(target, now, skipped, None))
        await self._record_attempt(run, run.attempts[-1])
        return "no"

    async def _try_deployment(
        self, run: _Run, target: _Target, policy: RetryConfig
    ) -> tuple[ChatResponse | EmbeddingsResponse | None, TurnoutError | None]:
        """Call one deployment, retrying retriable errors with backoff while the deadline allows."""
        tries = 0
        while True:
            tries += 1
            started = self._clock()
            try:
                result = await self._attempt_within_deadline(run, target, started)
            except TurnoutError as exc:
                run.attempts.append(self._attempt(target, started, exc, run.buffer.ttft_us))
                await self._record_attempt(run, run.attempts[-1])
                remaining_s = (run.event.envelope.deadline_at_us - self._clock()) / 1e6
                delay = None if run.buffer.sent else retry_delay_s(exc, tries, policy, remaining_s, self._rng)
                if delay is None:
                    return None, exc
                await asyncio.sleep(delay)
                continue
            run.attempts.append(self._attempt(target, started, None, run.buffer.ttft_us))
            await self._record_attempt(run, run.attempts[-1], later=True)  # after the reply: nobody waits for it
            return result, None

    async def _succeeded(self, run: _Run, target: _Target, result: ChatResponse | EmbeddingsResponse) -> InvokeOutcome:
        event = run.event
        assert event.route is not None
        await self._record_usage(run, target, result.upstream_model, result.usage)
        if run.sent:
            await asyncio.gather(*run.sent)
        route = event.route
        if target.deployment != route.deployment:
            route = replace(
                route,
                deployment=target.deployment,
                provider=target.provider,
                upstream_model=target.upstream_model,
                reason="fallback",
            )
        done = replace(event, route=route, attempts=run.attempts, streamed_chunks=run.buffer.sent or None)
        if isinstance(result, EmbeddingsResponse):
            return InvokeOutcome(replace(done, embeddings=result))
        return InvokeOutcome(replace(done, response=result))

    async def _attempt_within_deadline(
        self, run: _Run, target: _Target, started: int
    ) -> ChatResponse | EmbeddingsResponse:
        envelope = run.event.envelope
        remaining_s = (envelope.deadline_at_us - started) / 1e6
        if remaining_s <= 0:
            raise GatewayTimeout("The request's deadline passed before the provider answered.")
        try:
            async with asyncio.timeout(remaining_s):
                if envelope.embeddings is not None:
                    return await self._embed(target, envelope.embeddings)
                spec = target.adapter.build_request(envelope.request, target.upstream_model, target.endpoint)
                if envelope.request.stream:
                    return await self._stream(run, target, spec, started)
                body = await self._send(target, spec)
                return target.adapter.parse_response(body, target.upstream_model)
        except TimeoutError:
            raise GatewayTimeout("The request's deadline passed before the provider answered.") from None

    async def _embed(self, target: _Target, request: EmbeddingsRequest) -> EmbeddingsResponse:
        """One call, or several in parallel when the provider takes fewer inputs per call."""
        size = max(1, target.adapter.max_embedding_inputs)
        groups = [request.inputs[i : i + size] for i in range(0, len(request.inputs), size)]

        async def call(inputs: list[str]) -> EmbeddingsResponse:
            part = replace(request, inputs=inputs)
            spec = target.adapter.build_embeddings_request(part, target.upstream_model, target.endpoint)
            return target.adapter.parse_embeddings_response(await self._send(target, spec), target.upstream_model)

        parts = await asyncio.gather(*(call(g) for g in groups))
        if len(parts) == 1:
            return parts[0]
        prompt = sum(p.usage.prompt_tokens for p in parts)
        return EmbeddingsResponse(
            vectors=[v for p in parts for v in p.vectors],
            usage=Usage(prompt_tokens=prompt, total_tokens=sum(p.usage.total_tokens for p in parts) or prompt),
            upstream_model=parts[0].upstream_model,
        )

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

    async def _stream(self, run: _Run, target: _Target, spec: HttpRequestSpec, started: int) -> ChatResponse:
        whole = StreamAccumulator()
        async with self._transport.stream(target.provider, spec) as (head, body):
            if head.status >= 400:
                raise target.adapter.parse_error(head.status, head.headers, head.body)
            parser = target.adapter.stream_parser()
            try:
                await self._pump(run, target, body, parser, whole, started)
            except TurnoutError:
                if run.buffer.sent and (run.buffer.pending or run.guard is not None):
                    run.sent.append(await self._flush(run, target, final=True))  # the client keeps what came
                elif run.guard is not None:
                    run.guard.reset()  # nothing reached the client: the next attempt starts afresh
                raise
        if run.buffer.pending or run.guard is not None:
            run.sent.append(await self._flush(run, target, final=True))
        return whole.response(target.upstream_model)

    async def _pump(
        self, run: _Run, target: _Target, body: Any, parser: StreamParser, whole: StreamAccumulator, started: int
    ) -> None:
        """Read the provider's stream, sending coalesced chunks to the client as they fill."""
        topology = self._config.topology
        buffer = run.buffer
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
                run.sent.append(await self._flush(run, target))
        parser.close()

    async def _flush(self, run: _Run, target: _Target, final: bool = False) -> Awaitable[Any]:
        buffer = run.buffer
        text, buffer.text = buffer.text, ""
        tools, buffer.tools = buffer.tools, []
        buffer.last_flush = asyncio.get_running_loop().time()
        if run.guard is not None:
            try:
                text = run.guard.feed(text) + (run.guard.finish() if final else "")
            except TurnoutError:
                if tools:  # what the guard let through so far stays with the client; the stream ends here
                    await self._send_chunk(run, target, "", tools)
                raise
        if not text and not tools:
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return await self._send_chunk(run, target, text, tools)

    async def _send_chunk(self, run: _Run, target: _Target, text: str, tools: list[dict[str, Any]]) -> Awaitable[Any]:
        envelope = run.event.envelope
        chunk = ChunkEvent(
            request_id=envelope.request_id,
            seq=run.buffer.sent,
            deployment=target.deployment,
            content=text,
            tool_calls_json=orjson.dumps(tools).decode() if tools else None,
        )
        run.buffer.sent += 1
        ack = await run.emitter.send(envelope.reply_to, envelope.request_id, chunk)
        run.emitter.flush()  # the caller is waiting for it
        return ack

    async def _record_attempt(self, run: _Run, attempt: Attempt, later: bool = False) -> None:
        """Attempts are keyed by deployment: the breaker agent owns each deployment's partition. A
        failure goes out at once (the breaker counts it before the next request); a success
        ``later``, after the stage's output."""
        envelope = run.event.envelope
        event = AttemptEvent(
            request_id=envelope.request_id,
            caller=envelope.caller,
            logical_model=envelope.request.model,
            attempt_no=len(run.attempts),
            attempt=attempt,
        )
        if later:
            await run.emitter.send_later(self._topics.attempts, attempt.deployment, event)
        else:
            await run.emitter.send(self._topics.attempts, attempt.deployment, event)

    async def _record_usage(self, run: _Run, target: _Target, upstream_model: str, usage: Usage) -> None:
        envelope = run.event.envelope
        await run.emitter.send_later(
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
