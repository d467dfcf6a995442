"""The worker consumer's delivery of each fetched message (streams.kafka_transport._Consumer.wait_first):
a delivery that does not wait finishes at once, without tasks; one that waits is raced with the
flow's suspension as faust's own wait_first races it, from where it stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from streams.app import TurnoutApp


@pytest.fixture
async def consumer() -> AsyncIterator[Any]:
    app = TurnoutApp(f"t-delivery-{id(object())}", broker="kafka://127.0.0.1:1", store="memory://")
    yield app.consumer  # made, never started: nothing here reaches a broker


async def test_a_delivery_that_does_not_wait_wins_at_once_without_a_task(consumer: Any) -> None:
    delivered: list[str] = []

    async def deliver(message: str) -> str:
        delivered.append(message)
        return f"took {message}"

    tasks_before = len(asyncio.all_tasks())
    suspended = consumer.suspend_flow.wait()
    results = await consumer.wait_first(deliver("m1"), suspended)
    assert delivered == ["m1"]
    assert results.results == ["took m1"] and not results.stopped
    assert len(asyncio.all_tasks()) == tasks_before
    assert suspended.cr_frame is None  # closed unstarted (no "never awaited" warning)


async def test_a_delivery_that_waits_goes_on_from_where_it_stopped(consumer: Any) -> None:
    room: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    waiting_for_room = asyncio.Event()
    steps: list[str] = []

    async def deliver() -> str:
        steps.append("before")
        waiting_for_room.set()
        got = await room  # a full queue, say
        steps.append(f"after {got}")
        await asyncio.sleep(0)  # and a bare yield to the loop, handled as a task would
        return "delivered"

    waiting = asyncio.ensure_future(consumer.wait_first(deliver(), consumer.suspend_flow.wait()))
    await asyncio.wait_for(waiting_for_room.wait(), 1)
    assert steps == ["before"] and not waiting.done()
    room.set_result("room")
    results = await asyncio.wait_for(waiting, 1)
    assert steps == ["before", "after room"]
    assert results.results == ["delivered"]


async def test_a_waiting_delivery_is_abandoned_when_the_flow_is_suspended(consumer: Any) -> None:
    waiting_forever = asyncio.Event()
    cancelled = asyncio.Event()

    async def deliver() -> None:
        try:
            waiting_forever.set()
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.set()  # e.g. a lock given back
            raise

    waiting = asyncio.ensure_future(consumer.wait_first(deliver(), consumer.suspend_flow.wait()))
    await asyncio.wait_for(waiting_forever.wait(), 1)
    consumer.suspend_flow.set()  # a rebalance
    await asyncio.wait_for(waiting, 1)
    await asyncio.wait_for(cancelled.wait(), 1)  # cancelled where it waited, as in a task of its own


async def test_an_error_in_a_delivery_that_does_not_wait_is_raised(consumer: Any) -> None:
    async def deliver() -> None:
        raise KeyError("no callback for the partition")

    suspended = consumer.suspend_flow.wait()
    with pytest.raises(KeyError):
        await consumer.wait_first(deliver(), suspended)
    assert suspended.cr_frame is None
