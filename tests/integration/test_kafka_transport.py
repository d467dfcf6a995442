"""The transport's changes to faust's (see streams/kafka_transport.py).

The producer keeps every topic it sends to in its metadata.

The sequence of a stalled worker: the producer's metadata came from an all-topics answer, so a batch
for a topic it knew that way waits in the accumulator untracked; a send to a new topic (a client's
reply topic, say) makes the next refresh ask for the tracked topics only, and the waiting batch's
partition loses its leader.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka.producer.sender import SendProduceReqHandler
from mode.threads import WorkerThread

from streams.app import TurnoutApp
from streams.kafka_transport import _TrackingClient, _TrackingProducer
from turnout.kafka_admin import ensure_topics


async def test_a_batch_for_a_topic_known_from_an_all_topics_answer_is_delivered(kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    known, fresh = f"{prefix}.known", f"{prefix}.fresh"
    ensure_topics(kafka_bootstrap, [known], 1)
    producer = _TrackingProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=8000, linger_ms=1000)
    await producer.start()
    try:
        assert isinstance(producer.client, _TrackingClient)
        await producer.client.force_metadata_update()  # nothing tracked yet: the answer has every topic
        lingering = await producer.send(known, b"1")  # waits in the accumulator for the linger
        ensure_topics(kafka_bootstrap, [fresh], 1)
        await producer.send(fresh, b"2")  # new to the metadata: tracked, and refreshed for
        await producer.client.force_metadata_update()
        assert {known, fresh} <= producer.client._topics
        await asyncio.wait_for(lingering, 5)  # untracked, it would wait the whole request timeout
    finally:
        await producer.stop()


async def test_the_consumer_fetches_on_the_apps_own_loop_without_a_thread(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Faust would run aiokafka's consumer in a thread of its own; this transport keeps it on the app's loop."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_bootstrap, [f"{prefix}.in"], 2)
    app = TurnoutApp(
        f"{prefix}-group",
        broker=f"kafka://{kafka_bootstrap}",
        store="memory://",
        datadir=str(tmp_path / "faust"),  # not the working directory
        value_serializer="raw",
        broker_session_timeout=3.0,
        broker_heartbeat_interval=0.5,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        web_enabled=False,
    )
    topic = app.topic(f"{prefix}.in", value_type=bytes)
    seen: list[tuple[bytes, asyncio.AbstractEventLoop]] = []
    all_seen = asyncio.Event()

    @app.agent(topic)
    async def collect(stream: Any) -> None:
        async for value in stream:
            seen.append((value, asyncio.get_running_loop()))
            if len(seen) == 5:
                all_seen.set()

    threads_before = set(threading.enumerate())
    await app.start()
    try:
        delegate: Any = app.consumer  # faust types it as ConsumerT, without the delegate's parts
        consumer = delegate._thread._consumer
        assert consumer is not None
        assert consumer._client._loop is asyncio.get_running_loop()
        assert not {t for t in threading.enumerate() if isinstance(t, WorkerThread)} - threads_before
        for i in range(5):
            await (await topic.send(key=str(i).encode(), value=f"v{i}".encode()))
        await asyncio.wait_for(all_seen.wait(), 30)
        assert sorted(v for v, _ in seen) == [f"v{i}".encode() for i in range(5)]
        assert {loop for _, loop in seen} == {asyncio.get_running_loop()}
        committed: dict[Any, int] = {}
        deadline = asyncio.get_running_loop().time() + 30
        while sum(committed.values()) < 5 and asyncio.get_running_loop().time() < deadline:
            await app.consumer.commit()
            committed = {tp: off for tp, off in (await delegate.seek_to_committed()).items() if off is not None}
            await asyncio.sleep(0.05)
        assert sum(committed.values()) == 5  # commits go through the same loop
    finally:
        await app.stop()
    assert consumer._closed


async def test_send_now_writes_the_produce_request_in_the_callers_turn(kafka_bootstrap: str) -> None:
    """``send_now`` drains what is queued and writes it before it returns; what is sent while that
    request is in flight waits behind it, and goes out when it is answered."""
    topic = f"t{uuid.uuid4().hex[:10]}.eager"
    ensure_topics(kafka_bootstrap, [topic], 1)
    producer = _TrackingProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=8000, linger_ms=0)
    await producer.start()
    try:
        await asyncio.wait_for(await producer.send(topic, b"warm-up"), 5)  # metadata and the connection
        accumulator = producer._message_accumulator
        first = await producer.send(topic, b"1")
        assert accumulator._batches  # queued: aiokafka's sender task has not run since
        producer.send_now()
        assert not accumulator._batches and producer._sender._in_flight  # drained and written, no turn of the loop
        second = await producer.send(topic, b"2")
        producer.send_now()  # a request is in flight to that broker: this one waits behind it
        assert accumulator._batches
        one, two = await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert two.offset == one.offset + 1
    finally:
        await producer.stop()


async def test_a_produce_request_that_ends_abnormally_fails_its_batch_and_frees_the_broker(
    kafka_bootstrap: str, monkeypatch: Any
) -> None:
    """Kafka's errors are aiokafka's to answer (retries, failed batches); a bug that ends the request
    otherwise must not leave the broker marked busy, or every later send would wait forever."""
    topic = f"t{uuid.uuid4().hex[:10]}.eager-fail"
    ensure_topics(kafka_bootstrap, [topic], 1)
    producer = _TrackingProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=8000, linger_ms=0)
    await producer.start()
    try:
        await asyncio.wait_for(await producer.send(topic, b"warm-up"), 5)
        real_do = SendProduceReqHandler.do

        async def broken(self: Any, node_id: int) -> None:
            monkeypatch.setattr(SendProduceReqHandler, "do", real_do)  # once
            raise RuntimeError("a bug")

        monkeypatch.setattr(SendProduceReqHandler, "do", broken)
        lost = await producer.send(topic, b"1")
        producer.send_now()
        with pytest.raises(RuntimeError, match="a bug"):
            await asyncio.wait_for(lost, 5)
        assert not producer._sender._in_flight and not producer._sender._muted_partitions
        later = await producer.send(topic, b"2")
        producer.send_now()
        await asyncio.wait_for(later, 5)
    finally:
        await producer.stop()
