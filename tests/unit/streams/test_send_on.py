"""What a stage handler sends, in which order, and what it flushes (streams.agents.StageHandler):
the output a caller or the next stage waits for is flushed before the rest is sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from schemas.codec import EventCodec
from schemas.errors import TurnoutError
from schemas.events import StageEvent
from streams.agents import StageHandler
from streams.emitter import HoldingEmitter
from streams.stages.answer import finish
from streams.topics import TopicNames
from streams.topology import AgentSpec

TOPICS = TopicNames("turnout")


class Log:
    """An emitter that writes down each send and each flush, in order."""

    def __init__(self) -> None:
        self.log: list[str] = []

    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        self.log.append(f"send {topic}")
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    async def send_later(self, topic: str, key: str, event: Any) -> None:
        await self.send(topic, key, event)

    def flush(self) -> None:
        self.log.append("flush")


def handler(emitter: Log, output_topic: str | None) -> StageHandler:
    spec = AgentSpec("test", "in", ("route",), output_topic, 1)
    return StageHandler(spec, pipeline=None, emitter=emitter, codec=EventCodec(), topics=TOPICS)  # type: ignore[arg-type]


async def test_an_answers_reply_is_flushed_before_its_record_and_the_held_events(
    stage_event: Callable[..., StageEvent],
) -> None:
    emitter = Log()
    event = stage_event(deadline_at_us=int(time.time() * 1e6) + 60_000_000)
    answer = finish(event, int(time.time() * 1e6), error=TurnoutError("no").to_info())
    held = HoldingEmitter(emitter)
    await held.send_later(TOPICS.usage, "req-1", "usage")
    await handler(emitter, None)._send_on(answer, held)
    reply_to = event.envelope.reply_to
    assert emitter.log == [f"send {reply_to}", "flush", f"send {TOPICS.records}", f"send {TOPICS.usage}", "flush"]


async def test_a_stages_output_is_flushed_before_the_held_events(stage_event: Callable[..., StageEvent]) -> None:
    emitter = Log()
    held = HoldingEmitter(emitter)
    await held.send_later(TOPICS.attempts, "main", "attempt")
    await handler(emitter, "turnout.stage.route")._send_on(replace(stage_event(), stage="route"), held)
    assert emitter.log == ["send turnout.stage.route", "flush", f"send {TOPICS.attempts}", "flush"]
