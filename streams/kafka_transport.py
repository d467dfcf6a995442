"""Faust's aiokafka transport with the consumer's fetch wait set from the config.

faust-streaming 0.15 hard-codes ``fetch_max_wait_ms=1500`` for the worker's consumer, which adds up
to 1.5 s per hop when a topic is quiet. This transport sets it from ``kafka.fetch_max_wait_ms``.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["LowLatencyTransport"]


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms: int = 5

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        thread = _ConsumerThread(self, loop=self.loop, beacon=self.beacon)
        thread.fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", 5)
        return thread


class LowLatencyTransport(faust_aiokafka.Transport):
    Consumer = _Consumer
