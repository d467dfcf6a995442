"""The budget ledger: spend per budget slot, from the usage events, in a changelog-backed table.

The ledger agent reads the usage topic. Each usage partition's owner keeps, per budget slot, that
partition's running total in a Faust table whose entries are keyed by slot *and partition*, so a
slot's spend is sharded across the partitions and each shard has exactly one writer (a table
entry lives in the changelog partition of the events that update it; keying by partition keeps
that true through rebalances). An entry holds the offset of the last usage event it counted: a
usage event replayed after a crash is not counted twice.

After each event the ledger publishes the shard totals to Redis and drops the request's
reservation, in one step (``BudgetBook.settle``), and returns the alerts for the thresholds the
slot's spend reached for the first time this period. Calendar months are not fixed-length, so
the period is part of the entry's key rather than a Faust tumbling window; entries of periods
that ended a day ago are deleted as their partition's events pass (a table is changed only while
an event of its partition is processed, so the deletions go to the right changelog partition).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from schemas.events import BudgetEvent, UsageEvent
from streams.budgets import BudgetBook
from streams.stages.budgets import NANO_PER_USD, BudgetSlot, to_nano

__all__ = ["BudgetLedger"]

log = logging.getLogger(__name__)

EXPIRE_AFTER_S = 86_400  # entries of a period are kept this long after it ends
EXPIRE_EVERY_S = 60.0  # how often a partition's ended entries are looked for


class BudgetLedger:
    def __init__(self, table: MutableMapping[str, Any], book: BudgetBook) -> None:
        self._table = table
        self._book = book
        self._expired_at: dict[int, float] = {}

    async def record(self, event: UsageEvent, partition: int, offset: int) -> list[BudgetEvent]:
        """Count one usage event (once, even when it is replayed); the alerts it raised."""
        now_s = event.at_us / 1e6
        slots = self._book.slots_for(event.caller, event.logical_model, now_s)
        if not slots:
            return []
        if now_s - self._expired_at.get(partition, 0.0) > EXPIRE_EVERY_S:
            self._expire(partition, now_s)
        cost = to_nano(event.cost_usd)
        totals: list[tuple[BudgetSlot, int]] = []
        for slot in slots:
            key = f"{slot.key}|{partition}"
            entry = self._table.get(key)
            if entry is None or offset > entry["offset"]:
                nano = (entry["nano"] if entry else 0) + cost
                entry = {"nano": nano, "offset": offset, "slot": slot.key, "end_s": slot.period.end_s}
                self._table[key] = entry
            totals.append((slot, entry["nano"]))
        settled = await self._book.settle(event.request_id, partition, totals, now_s)
        return [
            BudgetEvent(
                budget=s.slot.rule.name,
                scope=s.slot.rule.scope,
                scope_value=s.slot.scope_value,
                period=s.slot.period.id,
                period_end_us=int(s.slot.period.end_s * 1e6),
                threshold=share,
                spent_usd=s.spent_nano / NANO_PER_USD,
                limit_usd=s.slot.rule.usd,
                request_id=event.request_id,
                at_us=event.at_us,
            )
            for s in settled
            for share in s.reached
        ]

    def _expire(self, partition: int, now_s: float) -> None:
        self._expired_at[partition] = now_s
        for key, entry in list(self._table.items()):
            if _partition_of(key) == partition and entry["end_s"] + EXPIRE_AFTER_S < now_s:
                del self._table[key]

    async def resync(self, partitions: set[int], now_s: float) -> int:
        """Publish the totals of the current periods of ``partitions`` (the ones this worker owns)
        to Redis again; returns how many were published."""
        live = [
            (entry["slot"], _partition_of(key), entry["nano"], entry["end_s"])
            for key, entry in list(self._table.items())
            if _partition_of(key) in partitions and entry["end_s"] > now_s  # standby copies are their owner's
        ]
        await self._book.republish(live, now_s)
        return len(live)


def _partition_of(key: str) -> int:
    return int(key.rsplit("|", 1)[1])
