"""A stage's lane (streams.lanes): the handler runs in the fetch loop's own turn, at most
``concurrency`` messages are in hand, and a message is acked (its offset may be committed) only
once its handler has finished; a cancelled one is not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faust.types import Message

from streams.app import TurnoutApp
from streams.lanes import Lane

TOPIC = "t-lane-in"


@pytest.fixture
async def app() -> AsyncIterator[TurnoutApp]:
    app = TurnoutApp(f"t-lanes-{id(object())}", broker="kafka://127.0.0.1:1", store="memory://")
    app.topics.add(app.topic(TOPIC, key_type=bytes, value_type=bytes))
    await app.topics._update_indices()  # what subscribing does: acks are on for the lane's topic
    app.flow_control.resume()
    yield app  # made, never started: nothing here reaches a broker


def message(app: TurnoutApp, offset: int, generation_id: int | None = None) -> Message:
    generation = app.consumer_generation_id if generation_id is None else generation_id
    return Message(TOPIC, 0, offset, 0.0, 0, None, b"k", b"v%d" % offset, None, generation_id=generation)


async def settled(lane: Lane, timeout_s: float = 2.0) -> None:
    """Wait until nothing is in hand or waiting: on the handlers' tasks, with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while lane.in_hand or lane.waiting:
        assert loop.time() < deadline, "the lane did not settle"
        await asyncio.wait(list(lane._tasks), timeout=deadline - loop.time())


def acked(app: TurnoutApp) -> list[int]:
    return list(app.consumer._acked[Message(TOPIC, 0, 0, 0.0, 0, None, None, None, None).tp])


async def test_a_handler_runs_in_the_callers_turn_and_its_message_is_acked_when_it_ends(app: TurnoutApp) -> None:
    seen: list[tuple[Any, ...]] = []

    async def handle(*args: Any) -> None:
        seen.append(args)

    lane = Lane(app, "cache", handle, concurrency=4)
    taken = lane.take(message(app, 7))
    with pytest.raises(StopIteration):  # finished without a single turn of the loop
        taken.send(None)
    assert seen == [(TOPIC, 0, 7, b"k", b"v7")]
    assert acked(app) == [7] and lane.in_hand == 0


async def test_a_message_is_acked_only_after_its_handler_has_finished(app: TurnoutApp) -> None:
    output_acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    started = asyncio.Event()

    async def handle(*_: Any) -> None:
        started.set()
        await output_acked  # the broker's ack of the stage's output

    lane = Lane(app, "cache", handle, concurrency=4)
    await lane.take(message(app, 1))
    assert started.is_set() and lane.in_hand == 1 and acked(app) == []
    output_acked.set_result(None)
    await settled(lane)
    assert acked(app) == [1] and lane.in_hand == 0


async def test_a_full_lane_queues_the_next_messages_and_starts_them_in_order_as_slots_free(app: TurnoutApp) -> None:
    release = {i: asyncio.get_running_loop().create_future() for i in range(5)}
    started: list[int] = []

    async def handle(_topic: str, _partition: int, offset: int, *_: Any) -> None:
        started.append(offset)
        await release[offset]

    lane = Lane(app, "route", handle, concurrency=2, backlog=2)
    for offset in range(4):  # two in hand, two waiting: the fetch loop is not held
        await asyncio.wait_for(lane.take(message(app, offset)), 1)
    assert started == [0, 1] and (lane.in_hand, lane.waiting) == (2, 2)
    fifth = asyncio.ensure_future(lane.take(message(app, 4)))
    done, _ = await asyncio.wait({fifth}, timeout=0.05)
    assert not done  # the backlog is full: now the fetch loop waits, as on a full agent queue
    release[1].set_result(None)
    await asyncio.wait_for(fifth, 2)
    assert started == [0, 1, 2]  # the oldest waiting message took the free slot
    for i in (0, 2, 3, 4):
        release[i].set_result(None)
    await settled(lane)
    assert started == [0, 1, 2, 3, 4] and sorted(acked(app)) == [0, 1, 2, 3, 4]


async def test_a_waiting_message_whose_group_rebalanced_meanwhile_is_dropped_unacked(app: TurnoutApp) -> None:
    release: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    started: list[int] = []

    async def handle(_topic: str, _partition: int, offset: int, *_: Any) -> None:
        started.append(offset)
        await release

    lane = Lane(app, "route", handle, concurrency=1)
    await lane.take(message(app, 0))
    await lane.take(message(app, 1))  # waits for the slot
    app.flow_control.suspend()  # a rebalance begins before the slot frees
    release.set_result(None)
    await settled(lane)
    assert started == [0] and acked(app) == [0]  # 1 is read again after faust's seek to the committed offset


async def test_a_message_fetched_before_a_rebalance_is_dropped_unhandled_and_unacked(app: TurnoutApp) -> None:
    seen: list[int] = []

    async def handle(_topic: str, _partition: int, offset: int, *_: Any) -> None:
        seen.append(offset)

    lane = Lane(app, "route", handle, concurrency=2)
    await lane.take(message(app, 3, generation_id=app.consumer_generation_id - 1))
    app.flow_control.suspend()  # a rebalance in progress
    await lane.take(message(app, 4))
    assert seen == [] and acked(app) == []


async def test_a_handler_that_raises_is_logged_and_its_message_acked(
    app: TurnoutApp, caplog: pytest.LogCaptureFixture
) -> None:
    async def handle(*_: Any) -> None:
        raise RuntimeError("a bug in a stage")

    lane = Lane(app, "route", handle, concurrency=2)
    await lane.take(message(app, 5))
    assert acked(app) == [5] and lane.in_hand == 0  # one bad message does not stop the partition
    assert "lane route failed on t-lane-in[0]@5" in caplog.text


async def test_stopping_cancels_what_is_in_hand_without_acking_it(app: TurnoutApp) -> None:
    cancelled = asyncio.Event()

    async def handle(*_: Any) -> None:
        try:
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            cancelled.set()
            raise

    lane = Lane(app, "invoke", handle, concurrency=1)
    await lane.take(message(app, 9))
    await lane.take(message(app, 10))  # waiting for the slot
    await asyncio.wait_for(lane.stop(), 2)
    assert cancelled.is_set() and (lane.in_hand, lane.waiting) == (0, 0)
    assert acked(app) == []  # both read again by whoever owns the partition next
