"""Repeated log lines from the Kafka client, at most one per message every few seconds.

While the broker is down, aiokafka logs every failed connection, fetch, metadata update and
coordinator lookup at ERROR: a worker wrote about 290 lines a second (14,648 in a 50 s outage
here). :class:`RepeatLimit` lets the first line of each kind through, drops the repeats for
``every_s`` seconds, and then lets the next one through saying how many it dropped; a kind is the
logger and the message's template (its arguments may differ: the node, the error).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

__all__ = ["KAFKA_CLIENT_LOGGERS", "RepeatLimit", "limit_repeats"]

KAFKA_CLIENT_LOGGERS = (
    "aiokafka",  # the client's own logger (connections, metadata)
    "aiokafka.conn",
    "aiokafka.cluster",
    "aiokafka.consumer.consumer",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.producer",
    "aiokafka.producer.sender",
)


class RepeatLimit(logging.Filter):
    def __init__(self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every_s = every_s
        self._clock = clock
        self._kinds: dict[tuple[str, str], tuple[float, int]] = {}  # kind -> (last let through, dropped since)

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, str(record.msg))
        now = self._clock()
        seen = self._kinds.get(kind)
        if seen is not None and now - seen[0] < self._every_s:
            self._kinds[kind] = (seen[0], seen[1] + 1)
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
