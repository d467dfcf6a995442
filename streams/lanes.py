"""A stage's messages handed from the worker's fetch loop straight to the stage: a lane.

Faust delivers a fetched message through its conductor to the agent's channel (a queue), where the
agent's stream task takes it on a later turn of the event loop, runs its sensors and processors and
gives the agent the event; on this machine that was 0.4-0.5 ms of every Kafka hop between stages,
most of it waiting behind the other tasks the loop had queued (``bench/README.md``). A lane runs the
stage's handler in the fetch loop's own turn, up to the handler's first wait (``streams.eager``),
with at most ``concurrency`` messages in hand; a message that finds the lane full waits in the
lane's backlog for a slot, and only a full backlog holds the fetch loop, as a full agent queue does.

Faust still does everything else: the topic is the conductor's (the group's subscription, the
partitions' assignment), and the lane tracks and acks each message as an agent's stream does, so
the offsets committed are faust's: a message is acked when its handler has finished, and its
handler awaits the broker's ack of its output first (``streams.agents``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from streams.eager import start_eagerly

__all__ = ["Lane"]

log = logging.getLogger(__name__)

BACKLOG = 4096  # messages a lane holds beyond those in hand: faust's stream_buffer_maxsize for an agent
Handle = Callable[[str, int, int, "bytes | None", bytes], Awaitable[None]]


class Lane:
    """One stage's lane on one worker: ``take`` is called by the consumer with each message of its topic.

    At most ``concurrency`` messages are in hand; up to ``backlog`` more wait in order for a free
    slot (as an agent's queue holds them), so one busy stage does not hold the fetch loop and with
    it every other topic of the worker. Only a full backlog makes ``take`` wait.
    """

    def __init__(self, app: Any, name: str, handle: Handle, concurrency: int, backlog: int = BACKLOG) -> None:
        self.app = app
        self.name = name
        self._handle = handle
        self._concurrency = concurrency
        self._backlog_max = backlog
        self._backlog: deque[Any] = deque()
        self._in_hand = 0
        self._room = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def in_hand(self) -> int:
        return self._in_hand

    @property
    def waiting(self) -> int:
        return len(self._backlog)

    async def take(self, message: Any) -> None:
        """Start handling ``message`` (it runs up to its first wait before this returns), or queue it
        behind the messages in hand; wait only while the backlog is full."""
        if self._in_hand < self._concurrency and not self._backlog:
            self._start(message)
            return
        while len(self._backlog) >= self._backlog_max:
            self._room.clear()
            await self._room.wait()
        self._backlog.append(message)
        self._start_waiting()

    def _start_waiting(self) -> None:
        while self._backlog and self._in_hand < self._concurrency:
            self._start(self._backlog.popleft())

    def _start(self, message: Any) -> None:
        app = self.app
        if message.generation_id != app.consumer_generation_id or not app.flow_control.is_active():
            return  # fetched before a rebalance: faust seeks to the committed offset, and it is read again
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
            self._start_waiting()
            self._room.set()
        if self.app.consumer.ack(message):
            self.app.sensors.on_message_out(message.tp, message.offset, message)

    async def stop(self) -> None:
        """Drop what waits and cancel what is in hand (the worker is stopping: what was not acked
        is read again)."""
        self._backlog.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
