"""A stage's messages handed from the worker's fetch loop straight to the stage: a lane.

Faust delivers a fetched message through its conductor to the agent's channel (a queue), where the
agent's stream task takes it on a later turn of the event loop, runs its sensors and processors and
gives the agent the event; on this machine that was 0.4-0.5 ms of every Kafka hop between stages,
most of it waiting behind the other tasks the loop had queued (``bench/README.md``). A lane runs the
stage's handler in the fetch loop's own turn, up to the handler's first wait (``streams.eager``),
with at most ``concurrency`` messages in hand; a message that finds the lane full waits for room,
which holds the fetch loop as a full agent queue does.

Faust still does everything else: the topic is the conductor's (the group's subscription, the
partitions' assignment), and the lane tracks and acks each message as an agent's stream does, so
the offsets committed are faust's: a message is acked when its handler has finished, and its
handler awaits the broker's ack of its output first (``streams.agents``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from streams.eager import start_eagerly

__all__ = ["Lane"]

log = logging.getLogger(__name__)

Handle = Callable[[str, int, int, "bytes | None", bytes], Awaitable[None]]


class Lane:
    """One stage's lane on one worker: ``take`` is called by the consumer with each message of ``topic``."""

    def __init__(self, app: Any, name: str, topic: str, handle: Handle, concurrency: int) -> None:
        self.app = app
        self.name = name
        self.topic = topic
        self._handle = handle
        self._concurrency = concurrency
        self._in_hand = 0
        self._room = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def in_hand(self) -> int:
        return self._in_hand

    async def take(self, message: Any) -> None:
        """Start handling ``message``; return once it is started (at its first wait), or when the
        message is dropped because the group has rebalanced since it was fetched."""
        while self._in_hand >= self._concurrency:
            self._room.clear()
            await self._room.wait()
        app = self.app
        if message.generation_id != app.consumer_generation_id or not app.flow_control.is_active():
            return  # fetched before a rebalance: the partition's new owner reads it from the committed offset
        consumer = app.consumer
        message.tracked = True
        consumer._unacked_messages.add(message)
        app.sensors.on_message_in(message.tp, message.offset, message)
        self._in_hand += 1
        task = start_eagerly(self._run(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, message: Any) -> None:
        try:
            try:
                await self._handle(message.topic, message.partition, message.offset, message.key, message.value)
            except Exception:  # the handler answers errors itself; this is the last line of defence
                log.exception(
                    "lane %s failed on %s[%d]@%d", self.name, message.topic, message.partition, message.offset
                )
        finally:  # a cancelled message (the worker stopping) is not acked: it is read again
            self._in_hand -= 1
            self._room.set()
        if self.app.consumer.ack(message):
            self.app.sensors.on_message_out(message.tp, message.offset, message)

    async def stop(self) -> None:
        """Cancel what is in hand (the worker is stopping: uncommitted messages are read again)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
