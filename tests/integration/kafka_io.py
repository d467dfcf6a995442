"""Small raw-Kafka helpers for tests: produce bytes, read a topic until a condition holds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Producer

from schemas.codec import EventCodec, UndecodableEvent


def produce(bootstrap: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, value=value, key=key)
    assert producer.flush(10) == 0, "message not delivered"


def read_until(
    bootstrap: str, topics: list[str], done: Callable[[list[Any]], bool], timeout_s: float = 30.0
) -> list[Any]:
    """Decoded events from the start of ``topics`` until ``done(events)`` (or fail at the deadline)."""
    codec = EventCodec()
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(topics)
    events: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not done(events):
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met on {topics} after {timeout_s} s; got {events!r}")
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            try:
                events.append(codec.decode(msg.value()))
            except UndecodableEvent:
                events.append(("undecodable", msg.topic(), msg.value()))
    finally:
        consumer.close()
    return events
