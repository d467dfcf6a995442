"""Live shadow for ``turnout replay --live``: the requests whose decision changed go to their candidate
deployment, paced, and each answer is kept beside the original one. Never replied to anyone.

- The recorded request passes the candidate's input guardrails first (a recorded request is the
  client's own text: its PII is redacted, a blocked one is not sent).
- The call goes through the same invoker as live traffic (retries, fallbacks, the provider adapters),
  with an emitter that keeps the attempt and usage events here: no reply topic is written, no usage
  reaches the budget ledger, no breaker counts these calls.
- The original answer is read back from the reply topic the request named, when it still holds it.
- Both answers are compared by the cosine similarity of their MiniLM embeddings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from confluent_kafka import Consumer, KafkaException, TopicPartition

from schemas.codec import EventCodec, UndecodableEvent
from schemas.config import TurnoutConfig
from schemas.events import ReplayDecision, ReplyEvent, RequestEvent, ShadowAnswer, StageEvent, UsageEvent
from streams.cache.embedders import Embedder
from streams.guards.banned import BannedPatterns
from streams.invoker import Invoker, now_us
from streams.log_limits import rdkafka_logging
from streams.providers.transport import ProviderTransport
from streams.routing.classifier import ComplexityModel
from streams.stages.input_guard import check_input
from streams.stages.route import decide_route
from streams.topics import TopicNames

__all__ = ["KeptEvents", "original_answers", "run_shadow"]


class KeptEvents:
    """An emitter that keeps what it is given (the shadow's attempts and usage) and sends nothing."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        self.events.append((topic, event))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def send_later(self, topic: str, key: str, event: Any) -> None:
        self.events.append((topic, event))

    def flush(self) -> None:
        pass  # nothing goes anywhere


def original_answers(bootstrap: str, events: Sequence[RequestEvent], codec: EventCodec) -> dict[str, str]:
    """The recorded answers to ``events``, from the reply topics they named (those that still exist)."""
    wanted: dict[str, set[str]] = {}
    for event in events:
        wanted.setdefault(event.reply_to, set()).add(event.request_id)
    found: dict[str, str] = {}
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "turnout-replay-originals",
            "enable.auto.commit": False,
            **rdkafka_logging(),
        }
    )
    try:
        for topic, ids in wanted.items():
            try:
                partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
            except KafkaException:
                continue
            if not partitions:
                continue
            assigned = []
            ends = {}
            for p in partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
                if high > low:
                    assigned.append(TopicPartition(topic, p, low))
                    ends[p] = high
            if not assigned:
                continue
            consumer.assign(assigned)
            done: set[int] = set()
            deadline = time.monotonic() + 30
            while len(done) < len(ends) and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None or msg.error():
                    continue
                partition, offset = msg.partition(), msg.offset()
                if partition is not None and offset is not None and offset + 1 >= ends[partition]:
                    done.add(partition)
                try:
                    reply = codec.decode(msg.value() or b"")
                except UndecodableEvent:
                    continue
                if isinstance(reply, ReplyEvent) and reply.request_id in ids and reply.response is not None:
                    found.setdefault(reply.request_id, reply.response.content or "")
            consumer.unassign()
    finally:
        consumer.close()
    return found


@dataclass(frozen=True, slots=True)
class _Job:
    event: RequestEvent
    decision: ReplayDecision


async def run_shadow(
    candidate: TurnoutConfig,
    jobs: Sequence[tuple[RequestEvent, ReplayDecision]],
    originals: dict[str, str],
    embedder: Embedder | None,
    rate_per_s: float = 5.0,
    concurrency: int = 8,
) -> list[ShadowAnswer]:
    """Send each job's request to its candidate deployment, at most ``rate_per_s`` started a second."""
    transport = ProviderTransport(dict(candidate.providers))
    invoker = Invoker(candidate, transport, TopicNames("turnout-shadow"))
    routed = any(m.routing and m.routing.simple for m in candidate.models.values())
    complexity = ComplexityModel.load() if routed else None
    limit = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one(n: int, event: RequestEvent, decision: ReplayDecision) -> ShadowAnswer:
        await asyncio.sleep(max(0.0, started + n / rate_per_s - time.monotonic()))
        async with limit:
            return await _call(candidate, invoker, complexity, event, decision, originals.get(event.request_id))

    try:
        answers = await asyncio.gather(*(one(n, e, d) for n, (e, d) in enumerate(jobs)))
    finally:
        await transport.aclose()
    if embedder is not None:
        answers = [_with_similarity(a, embedder) for a in answers]
    return list(answers)


async def _call(
    candidate: TurnoutConfig,
    invoker: Invoker,
    complexity: ComplexityModel | None,
    event: RequestEvent,
    decision: ReplayDecision,
    original: str | None,
) -> ShadowAnswer:
    base = ShadowAnswer(
        run_id=decision.run_id,
        request_id=event.request_id,
        tenant=event.caller.tenant,
        at_us=now_us(),
        original_deployment=decision.original_deployment,
        candidate_deployment=decision.candidate_deployment,
        status=0,
        latency_us=0,
        original_answer=original,
    )
    request = replace(event.request, stream=False, include_usage=False)
    model = candidate.models.get(request.model)
    if model is not None:
        guardrails = model.guardrails
        banned = guardrails.banned
        patterns = BannedPatterns(banned.patterns, banned.keywords) if banned.patterns or banned.keywords else None
        checked = check_input(request, guardrails, patterns)
        if checked.blocked_by is not None:
            return replace(base, status=400, error_class="GuardrailBlocked")
        request = checked.request
    envelope = replace(event, request=request, reply_to="", deadline_at_us=now_us() + 60_000_000)
    stage = StageEvent(stage="route", envelope=envelope)
    route = decide_route(candidate, stage, complexity)
    kept = KeptEvents()
    begun = time.perf_counter()
    outcome = await invoker.invoke(replace(stage, route=route), kept)
    latency_us = int((time.perf_counter() - begun) * 1e6)
    usage = [e for _, e in kept.events if isinstance(e, UsageEvent)]
    cost = sum(u.cost_usd for u in usage)
    if outcome.error is not None or outcome.event.response is None:
        error = outcome.error
        status = error.status if error is not None else 502
        return replace(base, status=status, latency_us=latency_us, cost_usd=cost, error_class=type(error).__name__)
    response = outcome.event.response
    return replace(
        base,
        status=200,
        latency_us=latency_us,
        prompt_tokens=response.usage.prompt_tokens,
        completion_tokens=response.usage.completion_tokens,
        cost_usd=cost,
        candidate_answer=response.content or "",
        candidate_deployment=outcome.event.route.deployment if outcome.event.route else decision.candidate_deployment,
    )


def _with_similarity(answer: ShadowAnswer, embedder: Embedder) -> ShadowAnswer:
    if not answer.original_answer or not answer.candidate_answer:
        return answer
    a, b = np.asarray(embedder.embed([answer.original_answer, answer.candidate_answer]), dtype=np.float32)
    return replace(answer, similarity=round(float(a @ b), 4))
