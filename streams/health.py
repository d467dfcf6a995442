"""A worker's liveness and readiness, for ``GET /healthz`` and ``GET /readyz`` on its web server.

Live: the consumer's fetch loop came back lately. The loop returns at least once a second, with
records or without (faust's fetch timeout; also while the broker is down, so an outage, which a
restart would not mend, does not fail the check), and it hands each record to its agent's stream
before it fetches again, so it stops coming back when the consumer is stuck in a rebalance or an
agent has stopped taking events: a worker in either state is alive to the process manager but does
no work, and restarting it is the remedy.

Ready: live, a member of the consumer group with its partitions assigned (not rebalancing), in
touch with the group's coordinator (a broker answering its heartbeats: during a broker outage
the worker is live but not ready, from about one session timeout into it), and the compacted state
every request reads loaded (kill switches and breaker states).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["STALE_AFTER_S", "WorkerHealth"]

STALE_AFTER_S = 30.0
"""A fetch loop that has not come back for this long is stuck."""


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    started_at: float  # monotonic, when the worker started
    fetched_at: float | None  # monotonic, when the fetch loop last came back (None: not yet)
    joined: bool  # assigned partitions at least once
    rebalancing: bool
    coordinator_known: bool  # the group's coordinator answers heartbeats
    partitions: int  # assigned to this worker now
    controls_loaded: bool
    breakers_loaded: bool

    def fetch_age_s(self, now: float) -> float:
        return now - (self.started_at if self.fetched_at is None else self.fetched_at)

    def live(self, now: float, stale_after_s: float = STALE_AFTER_S) -> bool:
        return self.fetch_age_s(now) <= stale_after_s

    def ready(self, now: float, stale_after_s: float = STALE_AFTER_S) -> bool:
        return (
            self.live(now, stale_after_s)
            and self.joined
            and not self.rebalancing
            and self.coordinator_known
            and self.controls_loaded
            and self.breakers_loaded
        )

    def report(self, now: float, stale_after_s: float = STALE_AFTER_S) -> dict[str, Any]:
        """The JSON body of both checks: each condition, and what is wrong when one fails."""
        problems = []
        if not self.live(now, stale_after_s):
            problems.append(f"the consumer's fetch loop has not come back for {self.fetch_age_s(now):.0f} s")
        if not self.joined:
            problems.append("not yet a member of the consumer group")
        elif self.rebalancing:
            problems.append("the consumer group is rebalancing")
        if self.joined and not self.coordinator_known:
            problems.append("the consumer group's coordinator (a Kafka broker) is not answering")
        if not self.controls_loaded:
            problems.append("kill switches not loaded yet")
        if not self.breakers_loaded:
            problems.append("breaker states not loaded yet")
        return {
            "live": self.live(now, stale_after_s),
            "ready": self.ready(now, stale_after_s),
            "fetch_age_s": round(self.fetch_age_s(now), 3),
            "partitions": self.partitions,
            "rebalancing": self.rebalancing,
            "coordinator_known": self.coordinator_known,
            "problems": problems,
        }
