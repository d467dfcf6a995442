"""Following a compacted topic from its start: how every worker learns the state that one writer
keeps (breaker transitions, operator controls)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import EventCodec, UndecodableEvent
from streams import kafka_wire

__all__ = ["follow_topic"]

kafka_wire.install()  # the gateway follows topics too, without faust's transport


async def follow_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    codec: EventCodec,
    apply: Callable[[Any], object],
    ready: asyncio.Event | None = None,
) -> None:
    """Call ``apply`` with every event of ``topic``, from its start, until cancelled. Bytes that
    do not decode are skipped (the writer is Turnout itself; the sink keeps a copy). ``ready`` is
    set once everything the topic held at the start has been applied."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        while True:
            if ready is not None and not ready.is_set():
                positions = {tp: await consumer.position(tp) for tp in assigned}
                if all(positions[tp] >= ends[tp] for tp in assigned):
                    ready.set()
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                for message in messages:
                    with contextlib.suppress(UndecodableEvent):
                        apply(codec.decode(message.value or b""))
    finally:
        await consumer.stop()
