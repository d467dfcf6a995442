"""The Kafka-native client against the real broker, without workers: what happens to a request the
broker does not take (``submit`` does not wait for the ack; the refusal arrives as the reply)."""

from __future__ import annotations

import uuid

from schemas.events import Caller, ChatMessage, ChatRequest
from streams.topics import TopicNames
from turnout.client import TurnoutClient
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
