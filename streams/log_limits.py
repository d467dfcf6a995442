"""Repeated log lines from the Kafka clients, at most one per message every few seconds.

While the broker is down, aiokafka logs every failed connection, fetch, metadata update and
coordinator lookup at ERROR: a worker wrote about 290 lines a second (14,648 in a 50 s outage
here). librdkafka (the gateway's and the sink's client) writes each failed connection of a
consumer to stderr, about 20 lines a second. :class:`RepeatLimit` lets the first line of each kind
through, drops the repeats for ``every_s`` seconds, and then lets the next one through saying how
many it dropped; a kind is the logger and the message's template (its arguments may differ: the
node, the error).

librdkafka's lines reach Python's logging when a client is made with :func:`rdkafka_logging` in
its configuration (served by the thread that polls the client). They all share one template, so
for them the kind is the client, the facility and the text with its numbers masked.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["KAFKA_CLIENT_LOGGERS", "RDKAFKA_LOGGER", "RepeatLimit", "limit_repeats", "rdkafka_logging"]

RDKAFKA_LOGGER = "turnout.kafka.librdkafka"
"""The logger librdkafka's lines go to: confluent-kafka logs ``"%s [%s] %s"`` with the facility,
the client's name and the text."""

KAFKA_CLIENT_LOGGERS = (
    "aiokafka",  # the client's own logger (connections, metadata)
    "aiokafka.conn",
    "aiokafka.cluster",
    "aiokafka.consumer.consumer",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.producer",
    "aiokafka.producer.sender",
    RDKAFKA_LOGGER,
)

_NUMBERS = re.compile(r"\d+")


def rdkafka_logging() -> dict[str, Any]:
    """The confluent-kafka setting that sends a client's log lines to :data:`RDKAFKA_LOGGER`
    instead of stderr. (Typed ``Any`` for confluent-kafka's stubs, which type the config's values as
    plain scalars.)"""
    return {"logger": logging.getLogger(RDKAFKA_LOGGER)}


def _kind(record: logging.LogRecord) -> tuple[str, ...]:
    args = record.args
    if record.name == RDKAFKA_LOGGER and isinstance(args, tuple) and len(args) == 3:
        facility, client, text = (str(a) for a in args)
        return record.name, facility, client, _NUMBERS.sub("#", text)
    return record.name, str(record.msg)


class RepeatLimit(logging.Filter):
    def __init__(self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every_s = every_s
        self._clock = clock
        self._kinds: dict[tuple[str, ...], tuple[float, int]] = {}  # kind -> (last let through, dropped since)
        self.dropped = 0  # lines dropped in all

    def filter(self, record: logging.LogRecord) -> bool:
        kind = _kind(record)
        now = self._clock()
        seen = self._kinds.get(kind)
        if seen is not None and now - seen[0] < self._every_s:
            self._kinds[kind] = (seen[0], seen[1] + 1)
            self.dropped += 1
            return False
        dropped = seen[1] if seen is not None else 0
        self._kinds[kind] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} [{dropped} more like this in the last {self._every_s:.0f} s]"
        if len(self._kinds) > 1000:  # templates are few; keep the table small whatever happens
            self._kinds = {k: v for k, v in self._kinds.items() if now - v[0] < self._every_s}
        return True


def limit_repeats(names: Iterable[str] = KAFKA_CLIENT_LOGGERS, every_s: float = 10.0) -> RepeatLimit:
    """Put one :class:`RepeatLimit` on each logger of ``names`` (the records they create)."""
    limit = RepeatLimit(every_s)
    for name in names:
        logging.getLogger(name).addFilter(limit)
    return limit
