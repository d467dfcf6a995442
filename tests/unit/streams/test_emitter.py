"""HoldingEmitter: a message's bookkeeping events go out after its output, in the order given."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from streams.emitter import HoldingEmitter


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any, str | None]] = []
        self.flushed_after: list[int] = []

    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        self.sent.append((topic, key, event, trace))
        ack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        ack.set_result(len(self.sent))
        return ack

    async def send_later(self, topic: str, key: str, event: Any) -> None:
        raise AssertionError("a HoldingEmitter sends held events with send")

    def flush(self) -> None:
        self.flushed_after.append(len(self.sent))


async def test_held_events_wait_for_release_and_go_out_after_the_output_in_order() -> None:
    inner = Recording()
    emitter = HoldingEmitter(inner)
    await emitter.send_later("attempts", "main", "attempt")
    await emitter.send_later("usage", "req-1", "usage")
    assert inner.sent == []
    reply_ack = await emitter.send("replies", "req-1", "reply", "00-trace")
    assert inner.sent == [("replies", "req-1", "reply", "00-trace")]
    acks = await emitter.release()
    assert inner.sent[1:] == [("attempts", "main", "attempt", None), ("usage", "req-1", "usage", None)]
    assert [await ack for ack in [reply_ack, *acks]] == [1, 2, 3]
    assert await emitter.release() == []  # released once


async def test_a_flush_reaches_the_emitter_underneath_with_what_it_was_given_so_far() -> None:
    inner = Recording()
    emitter = HoldingEmitter(inner)
    await emitter.send_later("usage", "req-1", "usage")
    await emitter.send("replies", "req-1", "reply")
    emitter.flush()
    assert inner.flushed_after == [1]  # the reply; the held usage is not sent until release
