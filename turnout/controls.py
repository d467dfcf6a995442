"""Operators' kill switches: ``turnout kill`` and ``turnout unkill`` write a ``ControlEvent`` to
the compacted control topic, which every worker follows (``streams.controls``). A reloaded config
is published the same way, as a ``ConfigEvent`` on the config topic (``streams.reload``)."""

from __future__ import annotations

from confluent_kafka import Producer

from schemas.codec import EventCodec
from schemas.config import KafkaConfig, TurnoutConfig
from schemas.errors import ServiceUnavailable
from schemas.events import ConfigEvent, ControlEvent
from streams.controls import KILL_SCOPES, control_key
from streams.invoker import now_us
from streams.log_limits import rdkafka_logging
from streams.reload import config_event
from streams.topics import TopicNames
from turnout.kafka_admin import prepare_topics

__all__ = ["publish_config", "set_kill_switch"]


def set_kill_switch(kafka: KafkaConfig, scope: str, value: str, killed: bool, reason: str = "") -> ControlEvent:
    """Set (``killed``) or lift the kill switch for ``scope`` ``value``; returns once Kafka has it."""
    if scope not in KILL_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(KILL_SCOPES)}")
    event = ControlEvent(scope=scope, value=value, killed=killed, at_us=now_us(), reason=reason)
    _publish(kafka, TopicNames(kafka.topic_prefix).controls, control_key(scope, value), event)
    return event


def publish_config(config: TurnoutConfig, source: str = "") -> ConfigEvent:
    """Publish ``config`` for the workers to take up; returns once Kafka has it."""
    event = config_event(config, now_us(), source)
    _publish(config.kafka, TopicNames(config.kafka.topic_prefix).config, "config", event)
    return event


def _publish(kafka: KafkaConfig, topic: str, key: str, event: object) -> None:
    prepare_topics(kafka)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True, **rdkafka_logging()})
    failures: list[str] = []
    producer.produce(
        topic,
        EventCodec().encode(event),
        key.encode(),
        on_delivery=lambda err, _msg: failures.append(str(err)) if err is not None else None,
    )
    if producer.flush(10) > 0 or failures:
        raise ServiceUnavailable(f"Kafka did not take the {type(event).__name__}: {failures or 'timed out'}")
