"""``python -m bench.kafka_hop`` against the real broker: one sample per message, warm-up left out."""

from __future__ import annotations

import math

import pytest

from bench.kafka_hop import measure
from tests.conftest import KAFKA


@pytest.mark.parametrize("consumer", ["rdkafka", "aiokafka"])
@pytest.mark.parametrize("producer", ["aiokafka", "rdkafka"])
def test_every_message_is_timed_from_its_send_to_its_arrival(producer: str, consumer: str) -> None:
    hops = measure(KAFKA, consumer, pause_ms=2, messages=15, producer=producer)
    assert len(hops) == 15
    assert all(math.isfinite(h) and h > 0 for h in hops), hops  # the two processes share one clock
