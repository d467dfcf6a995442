"""Circuit breakers across workers.

- ``BreakerTracker`` is the writer: the breaker agent feeds it every attempt (the attempts topic
  is keyed by deployment, so one worker owns each deployment's breaker), it keeps the state in a
  changelog-backed Faust table (a restarted worker recovers it), and it returns a ``BreakerEvent``
  on every transition.
- ``BreakerBoard`` is what every worker reads: the latest ``BreakerEvent`` per deployment, from
  the compacted breakers topic, read from its start by a consumer of its own in each worker.
  So a second worker does not keep calling a deployment that the first found dead.
- The half-open probe is one per deployment across all workers: a Redis ``SET NX`` lease.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from schemas.codec import EventCodec
from schemas.config import BreakerConfig
from schemas.events import AttemptEvent, BreakerEvent
from streams.follow import follow_topic
from streams.stages.breaker import BreakerState, admits, on_attempt

__all__ = ["BreakerBoard", "BreakerTracker", "JsonTable", "follow_breakers"]

log = logging.getLogger(__name__)

LOAD_WAIT_S = 10.0


class JsonTable(MutableMapping[str, Any]):
    """A Faust table of raw bytes seen as str keys and JSON values (the app's serializer is raw)."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def __getitem__(self, key: str) -> Any:
        value = self._table[key.encode()]
        if value is None:
            raise KeyError(key)
        return orjson.loads(value)

    def __setitem__(self, key: str, value: Any) -> None:
        self._table[key.encode()] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self._table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() for k in self._table)

    def __len__(self) -> int:
        return len(self._table)


def _to_dict(state: BreakerState) -> dict[str, Any]:
    data = dataclasses.asdict(state)
    data["latencies"] = [list(s) for s in state.latencies]
    return data


def _from_dict(data: dict[str, Any]) -> BreakerState:
    return BreakerState(**{**data, "latencies": tuple(tuple(s) for s in data.get("latencies", ()))})


class BreakerTracker:
    """Applies attempts to the breaker table; returns the transitions to publish."""

    def __init__(self, table: MutableMapping[str, Any], policy: BreakerConfig) -> None:
        self._table = table
        self._policy = policy

    def record(self, event: AttemptEvent, now_us: int) -> BreakerEvent | None:
        deployment = event.attempt.deployment
        stored = self._table.get(deployment)
        state = _from_dict(stored) if stored else BreakerState(deployment)
        new_state, transition = on_attempt(state, event.attempt, now_us, self._policy)
        if new_state != state:
            self._table[deployment] = _to_dict(new_state)
        if transition is None:
            return None
        return BreakerEvent(
            deployment=deployment,
            state=transition.after,
            previous_state=transition.before,
            reason=transition.reason,
            at_us=now_us,
            opened_at_us=new_state.opened_at_us,
        )


class BreakerBoard:
    """Every breaker's latest state, as this worker knows it."""

    def __init__(self, policy: BreakerConfig, redis: Any | None = None, lease_prefix: str = "turnout") -> None:
        self._policy = policy
        self._states: dict[str, BreakerState] = {}
        self._redis = redis
        self._lease_prefix = lease_prefix
        self.loaded = asyncio.Event()  # set once the breakers topic has been read to its end

    async def wait_loaded(self, timeout_s: float = LOAD_WAIT_S) -> None:
        """A worker that just started knows no breaker until it has read the topic: wait for it
        (bounded: a missing topic must not stop traffic)."""
        if self.loaded.is_set():
            return
        try:
            await asyncio.wait_for(self.loaded.wait(), timeout_s)
        except TimeoutError:
            log.warning("breaker states not loaded after %.0f s; going on without them", timeout_s)
            self.loaded.set()

    def apply(self, event: BreakerEvent) -> None:
        self._states[event.deployment] = BreakerState(event.deployment, event.state, 0, event.opened_at_us)

    def state_of(self, deployment: str) -> BreakerState | None:
        return self._states.get(deployment)

    def states(self) -> list[BreakerState]:
        """Every breaker this worker has heard of, by deployment."""
        return [self._states[d] for d in sorted(self._states)]

    def admission(self, deployment: str, now_us: int) -> str:
        """``yes``, ``probe`` or ``no`` (see ``streams.stages.breaker.admits``)."""
        return admits(self._states.get(deployment), now_us, self._policy)

    async def take_probe(self, deployment: str) -> bool:
        """Whether this caller is the one half-open probe for ``deployment``."""
        if self._redis is None:
            return True
        key = f"{self._lease_prefix}:breaker-probe:{deployment}"
        try:
            return bool(await self._redis.set(key, "1", nx=True, px=int(self._policy.open_s * 1000)))
        except Exception as exc:  # Redis down: let the probe through rather than never recover
            log.warning("breaker probe lease unavailable (%s); probing %s anyway", exc, deployment)
            return True


async def follow_breakers(
    board: BreakerBoard,
    bootstrap: str,
    topic: str,
    partitions: int,
    codec: EventCodec,
    ready: asyncio.Event | None = None,
) -> None:
    """Keep ``board`` up to date from the breakers topic, from its start, until cancelled."""

    def apply(event: object) -> None:
        if isinstance(event, BreakerEvent):
            board.apply(event)

    await follow_topic(bootstrap, topic, partitions, codec, apply, ready)
