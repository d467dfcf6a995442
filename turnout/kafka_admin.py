"""Creates Turnout's topics before anything subscribes to them.

Faust does not create the topics its agents read, and a consumer subscribed to a missing topic is
only assigned it after a metadata refresh (minutes): so every process calls ``ensure_topics``
first, and waits until each partition has a leader.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from schemas.config import MAX_CACHE_TTL_S, KafkaConfig
from schemas.errors import ServiceUnavailable
from streams.log_limits import rdkafka_logging
from streams.topics import STAGE_ORDER, TopicNames

__all__ = [
    "all_topics",
    "compacted_topics",
    "delete_topics",
    "ensure_topics",
    "prepare_topics",
    "topic_configs",
    "wait_for_group",
]


def compacted_topics(topics: TopicNames) -> list[str]:
    return [topics.breakers, topics.controls, topics.cache_entries, topics.config]


def topic_configs(topics: TopicNames) -> dict[str, dict[str, str]]:
    """Topic settings besides the defaults: the compacted topics, and the cache entries, which are
    also dropped after the longest TTL a route may set."""
    configs = {name: {"cleanup.policy": "compact"} for name in compacted_topics(topics)}
    configs[topics.cache_entries] = {"cleanup.policy": "compact,delete", "retention.ms": str(MAX_CACHE_TTL_S * 1000)}
    return configs


def all_topics(topics: TopicNames) -> list[str]:
    names = [topics.requests, *(topics.stage_output(s) for s in STAGE_ORDER[:-1])]
    return [
        *names,
        topics.parked,
        *topics.event_topics,
        topics.cache_fills,
        topics.cache_entries,
        topics.config,
        topics.dead_letters,
    ]


def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    timeout_s: float = 60.0,
    compacted: Iterable[str] = (),
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Create the missing ones (``compacted`` ones with ``cleanup.policy=compact``, and ``configs``
    per topic); return once all exist with a leader for every partition."""
    settings = {name: {"cleanup.policy": "compact"} for name in compacted}
    settings.update({name: dict(value) for name, value in (configs or {}).items()})
    admin = AdminClient({"bootstrap.servers": bootstrap, **rdkafka_logging()})
    wanted = list(names)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            existing = admin.list_topics(timeout=5).topics
        except KafkaException as exc:
            admin.poll(0.2)  # waits, and serves librdkafka's log lines (to Python's logging)
            if time.monotonic() >= deadline:
                raise ServiceUnavailable(f"Kafka is unreachable: {exc.args[0].str()}") from None
            continue
        missing = [n for n in wanted if n not in existing]
        if (
            not missing
            and all(p.leader >= 0 for n in wanted for p in existing[n].partitions.values())
            and all(existing[n].partitions for n in wanted)
        ):
            return
        if missing:
            futures = admin.create_topics(
                [
                    NewTopic(
                        n,
                        num_partitions=partitions,
                        replication_factor=1,
                        config=settings.get(n, {}),
                    )
                    for n in missing
                ],
                operation_timeout=10,
            )
            for fut in futures.values():
                try:
                    fut.result(15)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
        if time.monotonic() >= deadline:
            raise ServiceUnavailable(f"Kafka topics {missing} not ready after {timeout_s} s")
        admin.poll(0.1)


def delete_topics(kafka: KafkaConfig, timeout_s: float = 15.0) -> list[str]:
    """Delete every topic of this deployment: ``<prefix>.*`` and Faust's ``<group>-*`` (changelogs,
    the assignor's). For test stacks, so that a long suite does not leave the broker with thousands
    of partitions (every client's full metadata refresh decodes them all)."""
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap, **rdkafka_logging()})
    names = [
        n
        for n in admin.list_topics(timeout=5).topics
        if n.startswith(f"{kafka.topic_prefix}.") or n.startswith(f"{kafka.consumer_group}-")
    ]
    if names:
        for fut in admin.delete_topics(names, operation_timeout=timeout_s).values():
            try:
                fut.result(timeout_s)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise
    return names


def prepare_topics(kafka: KafkaConfig) -> None:
    """Every topic Turnout's stages, sink and breakers use, created as the config says."""
    topics = TopicNames(kafka.topic_prefix)
    ensure_topics(kafka.bootstrap, all_topics(topics), kafka.partitions, configs=topic_configs(topics))


def wait_for_group(bootstrap: str, group: str, members: int, timeout_s: float) -> str | None:
    """Wait until the Kafka consumer ``group`` is stable with at least ``members`` members.

    A Turnout stack answers as soon as one worker has joined; a worker joining after traffic has
    begun rebalances the group, and its table recovery then restores a changelog that already
    holds data (the breaker table). Waiting for every worker before the first request avoids that
    rebalance. Returns ``None``, or what the group looked like when ``timeout_s`` ran out.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})  # no info lines on the console
    deadline = time.monotonic() + timeout_s
    seen = "not described"
    while True:
        try:
            description = admin.describe_consumer_groups([group])[group].result(10)
            seen = f"{description.state.name}, {len(description.members)} members"
            if description.state.name == "STABLE" and len(description.members) >= members:
                return None
        except Exception as exc:  # a group not created yet, a broker busy: try again
            seen = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            return f"consumer group {group} not stable with {members} members after {timeout_s:.0f} s ({seen})"
        time.sleep(0.5)
