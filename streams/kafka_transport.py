"""Faust's aiokafka transport, with two changes.

- The consumer's fetch wait comes from the config: faust-streaming 0.15 hard-codes
  ``fetch_max_wait_ms=1500`` for the worker's consumer, which adds up to 1.5 s per hop when a topic
  is quiet. This transport sets it from ``kafka.fetch_max_wait_ms``.
- The producer tracks every topic it sends to. aiokafka 0.14's client asks for metadata of all
  topics until it tracks one, and ``send`` adds a topic to the tracked set only when the cluster
  metadata does not know it yet: a topic first seen in an all-topics answer is never tracked, and
  falls out of the metadata at the next refresh that asks for the tracked topics only. Its
  partitions then have no leader, and every batch for them waits for the producer's whole request
  timeout (20 minutes in Faust), holding the agent that awaits the ack and every commit (which
  flushes the producer). Seen here as a worker that stops processing after a few requests.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

from schemas.config import FETCH_MAX_WAIT_MS

__all__ = ["LowLatencyTransport"]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        thread = _ConsumerThread(self, loop=self.loop, beacon=self.beacon)
        thread.fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", FETCH_MAX_WAIT_MS)
        return thread


class _TrackingClient(aiokafka.AIOKafkaClient):
    async def _wait_on_metadata(self, topic: str) -> Any:
        if topic not in self._topics:
            self.add_topic(topic)  # tracked from its first send, whatever the metadata knows already
        return await super()._wait_on_metadata(topic)


class _TrackingProducer(aiokafka.AIOKafkaProducer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client.__class__ = _TrackingClient


class _Producer(faust_aiokafka.Producer):
    @property
    def _producer_type(self) -> type[aiokafka.AIOKafkaProducer]:
        return _TrackingProducer


class LowLatencyTransport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer
