"""The thin agent around the pipeline: decode, run the stage(s), send on, and never crash.

An event that does not decode goes to the dead-letter topic with the reason; the agent moves on.
Each agent awaits the broker's ack of what it sends before it takes the next event, so the
offset Faust commits is never ahead of the output (a crash replays; it does not lose).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from schemas.codec import EventCodec, UndecodableEvent
from schemas.errors import RateLimited, TurnoutError
from schemas.events import DeadLetter, RequestEvent, StageEvent
from streams.emitter import Emitter, HoldingEmitter
from streams.invoker import now_us
from streams.pipeline import Parked, Pipeline, StageResult, entering
from streams.stages.answer import Answer, finish
from streams.topics import TopicNames
from streams.topology import AgentSpec
from streams.tracing import request_span_id, traceparent

__all__ = ["StageHandler"]

log = logging.getLogger(__name__)

PARKED_POLL_S = 0.2  # how often a parked request looks for capacity; it gives up this long before its deadline
REPLY_GRACE_S = 2.0  # past its deadline plus this, a request's reply is not sent: its caller has given up


def _trace_of(envelope: RequestEvent) -> str | None:
    if not envelope.trace_id:
        return None
    return traceparent(envelope.trace_id, request_span_id(envelope.request_id))


class StageHandler:
    """What one agent does with one message."""

    def __init__(
        self, spec: AgentSpec, pipeline: Pipeline, emitter: Emitter, codec: EventCodec, topics: TopicNames
    ) -> None:
        self.spec = spec
        self._pipeline = pipeline
        self._emitter = emitter
        self._codec = codec
        self._topics = topics

    def use(self, pipeline: Pipeline) -> None:
        """A reloaded config's request path, for the next message (``streams.reload``)."""
        self._pipeline = pipeline

    async def handle(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes) -> None:
        try:
            event = self._decode(value)
        except UndecodableEvent as exc:
            await self._dead_letter(topic, partition, offset, key, value, str(exc))
            return
        emitter = HoldingEmitter(self._emitter)  # the stage's bookkeeping goes out after its output
        if len(self.spec.stages) > 1:
            result: StageResult = await self._pipeline.run_from(self.spec.stages[0], event, emitter)
        else:
            result = await self._pipeline.run_stage(self.spec.stages[0], event, emitter)
        await self._send_on(result, emitter)

    async def handle_parked(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes) -> None:
        """A request waiting for rate-limit capacity: admitted when there is some, 429 at its deadline.

        Once admitted it goes on as if the input guard had just let it through: to the cache
        stage's topic (split), or through the remaining stages here (fused).
        """
        try:
            event = self._codec.decode_as(StageEvent, value)
        except UndecodableEvent as exc:
            await self._dead_letter(topic, partition, offset, key, value, str(exc))
            return
        emitter = HoldingEmitter(self._emitter)
        while True:
            # answer while the reply can still reach the client before its deadline
            if (event.envelope.deadline_at_us - now_us()) / 1e6 <= PARKED_POLL_S:
                limited = RateLimited("The request was still over its rate limit at its deadline.")
                await self._send_on(finish(event, now_us(), error=limited.to_info()), emitter)
                return
            try:
                result = await self._pipeline.admit_parked(event)
            except TurnoutError as exc:
                await self._send_on(finish(event, now_us(), error=exc.to_info()), emitter)
                return
            if not isinstance(result, Parked):
                break
            remaining_s = (event.envelope.deadline_at_us - now_us()) / 1e6
            await asyncio.sleep(max(0.01, min(PARKED_POLL_S, remaining_s)))
        if self.spec.output_topic is not None:  # split: on to the cache stage's topic
            await (await self._emitter.send(self.spec.output_topic, result.envelope.request_id, result))
            return
        await self._send_on(await self._pipeline.run_from("cache", result, emitter), emitter)

    def _decode(self, value: bytes) -> StageEvent:
        event = self._codec.decode(value)
        if self.spec.reads_requests:
            if not isinstance(event, RequestEvent):
                raise UndecodableEvent(f"expected RequestEvent, got {type(event).__name__}")
            return entering(event)
        if not isinstance(event, StageEvent):
            raise UndecodableEvent(f"expected StageEvent, got {type(event).__name__}")
        return event

    async def _send_on(self, result: StageResult, held: HoldingEmitter) -> None:
        """Send the stage's output, then what the stage held back (``held``); wait for every ack.

        What a caller or the next stage waits for is flushed on its own, before the rest is even
        encoded. With a produce request already in flight (under load) the flush does nothing, and
        everything goes out together when it is answered; on an idle worker the output goes out
        at once and the rest in a second request."""
        acks: list[Awaitable[Any]]
        send = self._emitter.send
        if isinstance(result, Parked):
            event = result.event
            acks = [await send(self._topics.parked, event.envelope.request_id, event, _trace_of(event.envelope))]
            self._emitter.flush()
        elif isinstance(result, Answer):
            request_id, record = result.reply.request_id, result.record
            trace = traceparent(record.trace_id, request_span_id(request_id)) if record.trace_id else None
            acks = []
            # the reply first: the caller waits for it, the record only for the sink
            if now_us() <= result.deadline_at_us + REPLY_GRACE_S * 1e6:
                acks.append(await send(result.reply_to, request_id, result.reply, trace))
                self._emitter.flush()
            else:  # the ingress answered 504 already; a client that left may have no topic any more
                log.info("request %s answered after its deadline: the record is kept, the reply dropped", request_id)
            acks.append(await send(self._topics.records, request_id, record, trace))
        else:
            assert self.spec.output_topic is not None
            trace = _trace_of(result.envelope)
            acks = [await send(self.spec.output_topic, result.envelope.request_id, result, trace)]
            self._emitter.flush()
        acks += await held.release()
        self._emitter.flush()
        for ack in acks:
            await ack

    async def _dead_letter(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes, reason: str
    ) -> None:
        log.warning("dead-lettering %s[%d]@%d: %s", topic, partition, offset, reason)
        letter = DeadLetter(
            topic=topic,
            partition=partition,
            offset=offset,
            value=value,
            reason=reason,
            stage=self.spec.name,
            at_us=now_us(),
            key=key,
        )
        ack = await self._emitter.send(self._topics.dead_letters, f"{topic}:{partition}:{offset}", letter)
        await ack
