"""The producer keeps every topic it sends to in its metadata (see streams/kafka_transport.py).

The sequence of a stalled worker: the producer's metadata came from an all-topics answer, so a batch
for a topic it knew that way waits in the accumulator untracked; a send to a new topic (a client's
reply topic, say) makes the next refresh ask for the tracked topics only, and the waiting batch's
partition loses its leader.
"""

from __future__ import annotations

import asyncio
import uuid

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
