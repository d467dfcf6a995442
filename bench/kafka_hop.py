"""One Kafka hop between two processes, back to back and after a quiet pause.

    python -m bench.kafka_hop [--producer aiokafka|rdkafka] [--consumer rdkafka|aiokafka] [--pause-ms 20]

A producer process (``aiokafka`` on uvloop, as a worker produces a reply, or ``rdkafka``:
librdkafka's producer with its delivery reports polled by a thread, as the gateway produces a
request) sends a 400-byte message stamped with the monotonic clock, waits for its ack and then
``--pause-ms``; this process consumes
it, as the gateway takes a reply (``rdkafka``: librdkafka's consumer polled by a thread and handed
to the event loop with ``call_soon_threadsafe``) or with aiokafka on the loop (``aiokafka``), and
takes the time on its loop. The clock is the machine's, shared by both processes. Not a benchmark
cell: it is the floor under the sequential and TTFT figures of ``python -m bench``, whose rounds
leave each system quiet between its requests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable

import uvloop

from bench.stats import percentile

PAD = b"x" * 400
WARMUP = 20


async def _produce_rdkafka(bootstrap: str, topic: str, messages: int, pause_s: float) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all", "enable.idempotence": True})
    loop = asyncio.get_running_loop()
    stopping = threading.Event()

    def poll() -> None:
        while not stopping.is_set():
            producer.poll(0.05)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        for _ in range(messages + WARMUP):
            acked = loop.create_future()

            def ack(err: object, _msg: object, acked: asyncio.Future[None] = acked) -> None:
                loop.call_soon_threadsafe(acked.set_result, None)

            producer.produce(topic, struct.pack("d", time.monotonic()) + PAD, partition=0, on_delivery=ack)
            await acked
            await asyncio.sleep(pause_s)
    finally:
        stopping.set()
        thread.join(5)
        producer.flush(5)


async def _produce(bootstrap: str, topic: str, messages: int, pause_s: float) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks=1)
    await producer.start()
    try:
        for _ in range(messages + WARMUP):
            await (await producer.send(topic, struct.pack("d", time.monotonic()) + PAD, partition=0))
            await asyncio.sleep(pause_s)
    finally:
        await producer.stop()


async def _consume_rdkafka(bootstrap: str, topic: str, count: int, started: Callable[[], None]) -> list[float]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-hop-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,  # as the gateway's reply consumer
            "fetch.min.bytes": 1,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])  # a new topic: from its start, nothing is missed
    started()
    loop = asyncio.get_running_loop()
    hops: list[float] = []
    done = asyncio.Event()

    def arrived(sent: float) -> None:
        hops.append(time.monotonic() - sent)
        if len(hops) >= count:
            done.set()

    def poll() -> None:
        while not done.is_set():
            msg = consumer.poll(0.05)
            if msg is not None and msg.error() is None:
                loop.call_soon_threadsafe(arrived, struct.unpack("d", (msg.value() or b"")[:8])[0])

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    await done.wait()
    thread.join(5)
    consumer.close()
    return hops


async def _consume_aiokafka(bootstrap: str, topic: str, count: int, started: Callable[[], None]) -> list[float]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek(partition, 0)  # a new topic: from its start, nothing is missed
    started()
    hops: list[float] = []
    try:
        while len(hops) < count:
            msg = await consumer.getone()
            hops.append(time.monotonic() - struct.unpack("d", (msg.value or b"")[:8])[0])
    finally:
        await consumer.stop()
    return hops


def measure(bootstrap: str, consumer: str, pause_ms: float, messages: int, producer: str = "aiokafka") -> list[float]:
    """Milliseconds from each message's send to its arrival on this process's loop, the warm-up
    messages left out (they also cover the producer process's start, begun once this process's
    consumer is set up)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"bench-hop-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)
    command = [sys.executable, "-m", "bench.kafka_hop", "--produce", topic, "--bootstrap", bootstrap]
    command += ["--producer", producer, "--pause-ms", str(pause_ms), "--messages", str(messages)]
    senders: list[subprocess.Popen[bytes]] = []
    consume = _consume_rdkafka if consumer == "rdkafka" else _consume_aiokafka
    deadline_s = 60 + (messages + WARMUP) * (pause_ms / 1000 + 0.05)
    try:
        work = consume(bootstrap, topic, messages + WARMUP, lambda: senders.append(subprocess.Popen(command)))
        hops = uvloop.run(asyncio.wait_for(work, deadline_s))
    finally:
        for sender in senders:
            sender.wait(60)
        admin.delete_topics([topic])
    return [h * 1000 for h in hops[WARMUP:]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka_hop", description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--producer", choices=("aiokafka", "rdkafka"), default="aiokafka")
    parser.add_argument("--consumer", choices=("rdkafka", "aiokafka"), default="rdkafka")
    parser.add_argument("--pause-ms", type=float, default=20.0)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--produce", metavar="TOPIC", help=argparse.SUPPRESS)  # the producer process
    args = parser.parse_args(argv)
    if args.produce:
        produce = _produce_rdkafka if args.producer == "rdkafka" else _produce
        uvloop.run(produce(args.bootstrap, args.produce, args.messages, args.pause_ms / 1000))
        return
    hops = measure(args.bootstrap, args.consumer, args.pause_ms, args.messages, args.producer)
    label = f"{args.producer} -> {args.consumer}, pause {args.pause_ms:g} ms, {len(hops)} messages"
    print(f"{label}: hop p50 {statistics.median(hops):.2f} ms, p90 {percentile(hops, 90):.2f} ms")


if __name__ == "__main__":
    main()
