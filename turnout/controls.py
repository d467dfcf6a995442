"""Operators' kill switches: ``turnout kill`` and ``turnout unkill`` write a ``ControlEvent`` to
the compacted control topic, which every worker follows (``streams.controls``)."""

from __future__ import annotations

from confluent_kafka import Producer

from schemas.codec import EventCodec
from schemas.config import KafkaConfig
from schemas.errors import ServiceUnavailable
from schemas.events import ControlEvent
from streams.controls import KILL_SCOPES, control_key
from streams.invoker import now_us
from streams.topics import TopicNames
from turnout.kafka_admin import prepare_topics

__all__ = ["set_kill_switch"]


def set_kill_switch(kafka: KafkaConfig, scope: str, value: str, killed: bool, reason: str = "") -> ControlEvent:
    """Set (``killed``) or lift the kill switch for ``scope`` ``value``; returns once Kafka has it."""
    if scope not in KILL_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(KILL_SCOPES)}")
    prepare_topics(kafka)
    event = ControlEvent(scope=scope, value=value, killed=killed, at_us=now_us(), reason=reason)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True})
    failures: list[str] = []
    producer.produce(
        TopicNames(kafka.topic_prefix).controls,
        EventCodec().encode(event),
        control_key(scope, value).encode(),
        on_delivery=lambda err, _msg: failures.append(str(err)) if err is not None else None,
    )
    if producer.flush(10) > 0 or failures:
        raise ServiceUnavailable(f"Kafka did not take the control event: {failures or 'timed out'}")
    return event
