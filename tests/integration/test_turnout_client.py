"""The Kafka-native client against the real broker, without workers: what happens to a request the
broker does not take (``submit`` does not wait for the ack; the refusal arrives as the reply)."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest
from confluent_kafka import Consumer

from schemas.errors import ServiceUnavailable
from schemas.events import Caller, ChatMessage, ChatRequest
from streams.topics import TopicNames
from turnout.client import TurnoutClient, end_offset
from turnout.kafka_admin import ensure_topics

CALLER = Caller(tenant="acme", team="platform", user="u1", tier="paid", key_id="demo")
BROKER_MAX_BYTES = 1_048_588  # the broker's default message.max.bytes, which the test broker keeps


async def test_a_request_the_broker_refuses_is_answered_503_on_its_stream(kafka_bootstrap: str) -> None:
    topics = TopicNames(f"t{uuid.uuid4().hex[:10]}")
    ensure_topics(kafka_bootstrap, [topics.requests], 1)
    # the client's own size check lets it go; the broker refuses it in the delivery report
    config = {"message.max.bytes": 4 * BROKER_MAX_BYTES}
    async with TurnoutClient(kafka_bootstrap, topics, producer_config=config, max_in_flight=1) as client:
        huge = ChatRequest(model="smart-chat", messages=[ChatMessage(role="user", content="x" * 2 * BROKER_MAX_BYTES)])
        stream = await client.submit(client.new_request(huge, CALLER, timeout_s=30))
        reply = await stream.reply()
        assert reply.error is not None and reply.error.status == 503, reply
        assert reply.error.message.startswith("Kafka did not take the request")
        # its slot is free again: a second request is not held back by the first
        small = ChatRequest(model="smart-chat", messages=[ChatMessage(role="user", content="hi")])
        second = await client.submit(client.new_request(small, CALLER, timeout_s=1))
        late = (await second.reply()).error
        assert late is not None and late.status == 504  # no workers here: the client's own 504 at the deadline


def test_the_end_offset_of_a_reply_topic_that_appears_late_is_found(kafka_bootstrap: str) -> None:
    """A gateway starting beside a broker that does not know its new reply topic yet waits for it
    (asking for its metadata again), rather than failing its start."""
    topic = TopicNames(f"t{uuid.uuid4().hex[:10]}").replies("late")
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g{uuid.uuid4().hex[:8]}"})
    created = threading.Timer(1.0, ensure_topics, (kafka_bootstrap, [topic], 1))
    created.start()
    try:
        assert end_offset(consumer, topic, timeout_s=30) == 0
        assert topic in consumer.list_topics(topic, timeout=5).topics
    finally:
        created.cancel()
        consumer.close()


def test_a_reply_topic_that_never_appears_is_a_503_at_the_deadline(kafka_bootstrap: str) -> None:
    topic = TopicNames(f"t{uuid.uuid4().hex[:10]}").replies("never")
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"g{uuid.uuid4().hex[:8]}"})
    try:
        with pytest.raises(ServiceUnavailable, match="Kafka is unreachable"):
            end_offset(consumer, topic, timeout_s=1)
    finally:
        consumer.close()


async def test_the_readiness_check_names_a_missing_requests_topic_then_passes(kafka_bootstrap: str) -> None:
    topics = TopicNames(f"t{uuid.uuid4().hex[:10]}")
    async with TurnoutClient(kafka_bootstrap, topics) as client:  # creates its reply topic only
        assert await client.kafka_problem() == f"Kafka topic {topics.requests} is not available"
        ensure_topics(kafka_bootstrap, [topics.requests], 2)
        assert await client.kafka_problem() is None


async def test_the_readiness_check_says_kafka_is_not_answering_when_no_broker_listens() -> None:
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = TurnoutClient(f"127.0.0.1:{port}", TopicNames(f"t{uuid.uuid4().hex[:10]}"))
    problem = await client.kafka_problem(timeout_s=0.5)
    assert problem is not None and problem.startswith("Kafka is not answering ("), problem
