"""The fault scenario: the primary deployment answers 503 during the middle third of an open-loop run.

A logical model ``bench-fault-<ms>ms`` has two deployments on the simulator, ``bench-fault-primary``
and ``bench-fault-backup``, with the same delay under two upstream model names
(``sim-slow-<ms>.0`` and ``sim-slow-<ms>.00``: the simulator reads both as ``<ms>`` milliseconds,
and a fault rule names one exact model, so only the primary fails). The load generator sends at a
fixed rate for three equal thirds; at the start of the second third the harness installs the
simulator's fault rule (every call to the primary answers 503), at the start of the third it clears
it. Each measured send is a sample (its scheduled time, latency, error, ``x-request-id``); the
request ids are looked up in the stack's ClickHouse (``requests FINAL``: the deployment that
answered and every attempt), and the primary's breaker transitions come from ``breaker_events``.

Everything here but :class:`FaultInjector` is pure, so the thirds and their summary are tested
without a stack.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.stats import summarize
from bench.workload import chat_body

__all__ = [
    "BACKUP",
    "BREAKERS",
    "FAULT_LOG_WAIT_S",
    "FAULT_STATUS",
    "PHASES",
    "PRIMARY",
    "RETRY",
    "FaultInjector",
    "Routing",
    "Sample",
    "Transition",
    "add_fault_model",
    "backup_upstream",
    "breaker_sql",
    "fault_model",
    "fault_records",
    "fault_rule",
    "fault_summary",
    "fault_target",
    "fault_target_id",
    "parse_routing",
    "parse_transitions",
    "primary_upstream",
    "routing_sql",
    "scenario",
    "split_thirds",
    "third_summary",
]

PRIMARY = "bench-fault-primary"
BACKUP = "bench-fault-backup"
FAULT_STATUS = 503
BREAKERS: dict[str, Any] = {"failure_threshold": 3, "open_s": 2.0}
"""The stacks' ``breakers``: short enough to see the primary's breaker open and close within a run."""
RETRY: dict[str, Any] = {"max_tries": 2, "base_delay_ms": 20, "max_delay_ms": 50}
"""The fault model's ``retry``: one retry of the primary, then the backup."""
PHASES = ("before", "fault", "after")
CIRCUIT_OPEN = "CircuitOpen"
"""The error class of an attempt skipped because the deployment's breaker was open."""


def fault_model(delay_ms: int) -> str:
    """The logical model of the scenario: primary, then backup."""
    return f"bench-fault-{delay_ms}ms"


def primary_upstream(delay_ms: int) -> str:
    """The primary's simulator model: ``delay_ms`` of delay, a name of its own for the fault rule."""
    return f"sim-slow-{delay_ms}.0"


def backup_upstream(delay_ms: int) -> str:
    """The backup's simulator model: the same delay under another name."""
    return f"sim-slow-{delay_ms}.00"


def add_fault_model(data: dict[str, Any], delay_ms: int) -> None:
    """Add the scenario's deployments, logical model and breaker settings to a Turnout config (in place)."""
    data.setdefault("deployments", {})
    data["deployments"][PRIMARY] = {"provider": "simulator", "model": primary_upstream(delay_ms)}
    data["deployments"][BACKUP] = {"provider": "simulator", "model": backup_upstream(delay_ms)}
    data.setdefault("models", {})[fault_model(delay_ms)] = {"deployments": [PRIMARY, BACKUP], "retry": dict(RETRY)}
    data["breakers"] = {**(data.get("breakers") or {}), **BREAKERS}


def fault_target_id(system: str, delay_ms: int) -> str:
    return f"{system}@{delay_ms}ms/fault"


def fault_target(system: str, base_url: str, api_key: str, delay_ms: int) -> tuple[str, dict[str, Any]]:
    """The load generator's target for the scenario (non-streaming), as ``(id, entry)``."""
    return fault_target_id(system, delay_ms), {
        "url": f"{base_url.rstrip('/')}/chat/completions",
        "headers": {"Authorization": f"Bearer {api_key}"},
        "body": json.dumps(chat_body(fault_model(delay_ms), False)),
        "stream": False,
    }


def fault_rule(delay_ms: int) -> dict[str, Any]:
    """The simulator's fault rule (``POST /_sim/faults``): every call to the primary answers 503."""
    return {"model": primary_upstream(delay_ms), "knobs": {"error_status": FAULT_STATUS}, "times": None}


def scenario(delay_ms: int, rate: float, third_s: float) -> dict[str, Any]:
    """What the scenario runs, for the result document."""
    return {
        "model": fault_model(delay_ms),
        "delay_ms": delay_ms,
        "rate": rate,
        "third_s": third_s,
        "primary": {"deployment": PRIMARY, "upstream": primary_upstream(delay_ms)},
        "backup": {"deployment": BACKUP, "upstream": backup_upstream(delay_ms)},
        "fault": fault_rule(delay_ms),
        "breakers": dict(BREAKERS),
        "retry": dict(RETRY),
        "phases": list(PHASES),
    }


# ---------------------------------------------------------------------------------------- samples


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured send of the open loop."""

    offset_s: float
    """Scheduled send time from the start of the window."""
    latency_ms: float | None
    """From the scheduled time to the reply; ``None`` when the request failed."""
    error: str | None
    request_id: str | None

    @property
    def ok(self) -> bool:
        return self.latency_ms is not None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Sample:
        """From the load generator's ``[offset_s, latency_ms, error, request_id]``."""
        offset, latency, error, request_id = row
        return cls(float(offset), None if latency is None else float(latency), error, request_id)


def split_thirds(samples: Iterable[Sample], duration_s: float) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """Samples by the third of the window their scheduled send time falls in (the last one is closed)."""
    if duration_s <= 0:
        raise ValueError(f"duration must be positive, got {duration_s}")
    thirds: tuple[list[Sample], list[Sample], list[Sample]] = ([], [], [])
    for sample in samples:
        # the tolerance keeps a send scheduled exactly on a boundary in the later third
        index = int(3 * max(0.0, sample.offset_s) / duration_s + 1e-9)
        thirds[min(2, index)].append(sample)
    return thirds


# ---------------------------------------------------------------------------------------- ClickHouse


@dataclass(frozen=True, slots=True)
class Routing:
    """Where one request went, from ``requests FINAL``."""

    deployment: str
    """The deployment that answered (the last one tried, for a failed request)."""
    attempts: tuple[tuple[str, str], ...] = ()
    """``(deployment, error_class)`` per attempt, in order; ``""`` for a good one, ``CircuitOpen`` for a skip."""


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def routing_sql(database: str, logical_model: str) -> str:
    return (
        "SELECT request_id, deployment, "
        "arrayMap(a -> tupleElement(a, 'deployment'), attempts), "
        "arrayMap(a -> tupleElement(a, 'error_class'), attempts) "
        f"FROM {database}.requests FINAL WHERE logical_model = {_quote(logical_model)}"
    )


def parse_routing(rows: Iterable[Sequence[Any]]) -> dict[str, Routing]:
    return {
        str(request_id): Routing(str(deployment), tuple(zip(map(str, deps), map(str, errors), strict=True)))
        for request_id, deployment, deps, errors in rows
    }


@dataclass(frozen=True, slots=True)
class Transition:
    at_s: float
    """From the start of the load generator's window."""
    state: str
    previous: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"at_s": round(self.at_s, 3), "state": self.state, "previous": self.previous, "reason": self.reason}


def breaker_sql(database: str, deployment: str) -> str:
    return (
        "SELECT state, previous_state, reason, toUnixTimestamp64Micro(at) "
        f"FROM {database}.breaker_events FINAL WHERE deployment = {_quote(deployment)} ORDER BY at"
    )


def parse_transitions(rows: Iterable[Sequence[Any]], window_start_wall_s: float) -> list[Transition]:
    """Breaker transitions with their time from the window's start (wall clock, same machine)."""
    return [
        Transition(int(at_us) / 1e6 - window_start_wall_s, str(state), str(previous), str(reason))
        for state, previous, reason, at_us in rows
    ]


# ---------------------------------------------------------------------------------------- summary


def third_summary(
    samples: Sequence[Sample], routing: Mapping[str, Routing], primary: str = PRIMARY, backup: str = BACKUP
) -> dict[str, Any]:
    """One third: requests, success rate, latency of the good ones, and where they went.

    ``to_backup`` counts good requests answered by the backup; ``fallback_share`` is its share of
    the good requests found in ClickHouse (``None`` when none were). ``primary_calls`` are the
    calls made to the primary (each retry counts), ``primary_failed`` those that failed, and
    ``primary_skipped`` the requests that skipped it because its breaker was open.
    """
    ok = [s for s in samples if s.ok]
    errors = Counter(s.error or "error" for s in samples if not s.ok)
    found = [(s, routing[s.request_id]) for s in samples if s.request_id is not None and s.request_id in routing]
    ok_found = [r for s, r in found if s.ok]
    to_backup = sum(r.deployment == backup for r in ok_found)
    attempts = [a for _, r in found for a in r.attempts if a[0] == primary]
    skipped = sum(error == CIRCUIT_OPEN for _, error in attempts)
    return {
        "requests": len(samples),
        "ok": len(ok),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "success_rate": round(len(ok) / len(samples), 4) if samples else None,
        "latency_ms": summarize([s.latency_ms for s in ok if s.latency_ms is not None]).to_dict(),
        "logged": len(found),
        "by_deployment": dict(Counter(r.deployment for r in ok_found)),
        "to_backup": to_backup,
        "fallback_share": round(to_backup / len(ok_found), 4) if ok_found else None,
        "primary_calls": len(attempts) - skipped,
        "primary_failed": sum(error not in ("", CIRCUIT_OPEN) for _, error in attempts),
        "primary_skipped": skipped,
    }


def fault_summary(
    samples: Sequence[Sample],
    routing: Mapping[str, Routing],
    *,
    third_s: float,
    fault_on_s: float | None,
    fault_off_s: float | None,
    transitions: Sequence[Transition] = (),
) -> dict[str, Any]:
    """The scenario on one system: a summary per third, when the fault was on, the breaker's moves.

    ``breaker_opened_after_s`` is the time from the fault's start to the primary's breaker opening;
    ``breaker_closed_after_s`` from the fault's end to its last closing.
    """
    thirds = split_thirds(samples, 3 * third_s)
    rows = []
    for index, (phase, part) in enumerate(zip(PHASES, thirds, strict=True)):
        rows.append({"third": index + 1, "phase": phase, "from_s": index * third_s, "to_s": (index + 1) * third_s})
        rows[-1].update(third_summary(part, routing))
    opened = [t.at_s for t in transitions if t.state == "open" and fault_on_s is not None and t.at_s >= fault_on_s]
    closed = [t.at_s for t in transitions if t.state == "closed" and fault_off_s is not None and t.at_s >= fault_off_s]
    return {
        "third_s": third_s,
        "fault_on_s": None if fault_on_s is None else round(fault_on_s, 3),
        "fault_off_s": None if fault_off_s is None else round(fault_off_s, 3),
        "samples": len(samples),
        "logged": sum(r["logged"] for r in rows),
        "thirds": rows,
        "breaker": [t.to_dict() for t in transitions],
        "breaker_opened_after_s": round(opened[0] - fault_on_s, 3) if opened and fault_on_s is not None else None,
        "breaker_closed_after_s": round(closed[-1] - fault_off_s, 3) if closed and fault_off_s is not None else None,
    }


# ---------------------------------------------------------------------------------------- the fault


class FaultInjector:
    """Installs the fault rule one third into the load generator's window and clears it two thirds in.

    :meth:`on_event` gets the load generator's window events (see ``run_loadgen``); a timer thread
    does the rest. :meth:`finish` clears the rule whatever happened (call it in ``finally``).
    Offsets are measured from the moment ``window_start`` arrived.
    """

    def __init__(self, simulator_url: str, delay_ms: int, third_s: float) -> None:
        self.url = f"{simulator_url.rstrip('/')}/_sim/faults"
        self.rule = fault_rule(delay_ms)
        self.third_s = third_s
        self.window_start_wall_s: float | None = None
        self.fault_on_s: float | None = None
        self.fault_off_s: float | None = None
        self.errors: list[str] = []
        self._installed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def on_event(self, event: str) -> None:
        if event != "window_start" or self._thread is not None:
            return
        self._t0 = time.monotonic()
        self.window_start_wall_s = time.time()
        self._thread = threading.Thread(target=self._run, name="bench-fault", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._stop.wait(max(0.0, self._t0 + self.third_s - time.monotonic())):
            return
        self._install()
        self._stop.wait(max(0.0, self._t0 + 2 * self.third_s - time.monotonic()))
        self._clear()

    def _install(self) -> None:
        try:
            response = httpx.post(self.url, json=self.rule, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self.errors.append(f"installing the fault rule failed: {exc}")
            return
        self._installed = True
        self.fault_on_s = time.monotonic() - self._t0

    def _clear(self) -> None:
        try:
            httpx.delete(self.url, timeout=10).raise_for_status()
        except httpx.HTTPError as exc:
            self.errors.append(f"clearing the fault rules failed: {exc}")
            return
        if self._installed and self.fault_off_s is None:
            self.fault_off_s = time.monotonic() - self._t0
        self._installed = False

    def finish(self) -> None:
        """Stop the timer (clearing the rule at once if it is on) and make sure no rule is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        if self._installed or self._thread is None:
            self._clear()


FAULT_LOG_WAIT_S = 30.0
"""How long the fault scenario waits for its requests to reach ClickHouse (the sink batches)."""


def fault_records(
    config_path: str, delay_ms: int, samples: list[Sample], injector: FaultInjector
) -> tuple[dict[str, Routing], list[Transition], list[str]]:
    """Each sample's routing from the stack's ClickHouse (waiting for the sink), the breaker's moves,
    and what went wrong reading them (the load generator's figures stand without ClickHouse's)."""
    from schemas.config import load_config
    from turnout.analytics import run_sql

    config = load_config(config_path)
    database = config.clickhouse.database
    wanted = {s.request_id for s in samples if s.request_id is not None}
    routing: dict[str, Routing] = {}
    problems: list[str] = []
    sql = routing_sql(database, fault_model(delay_ms))
    deadline = time.monotonic() + FAULT_LOG_WAIT_S
    try:
        while True:
            routing = parse_routing(run_sql(config, sql).rows)
            missing = len(wanted - routing.keys())
            if not missing or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if missing:
            problems.append(f"{missing} of {len(wanted)} requests not in ClickHouse after {FAULT_LOG_WAIT_S:.0f} s")
        rows = run_sql(config, breaker_sql(database, PRIMARY)).rows
    except Exception as exc:
        problems.append(f"ClickHouse query failed: {exc}")
        return routing, [], problems
    start = injector.window_start_wall_s
    return routing, [] if start is None else parse_transitions(rows, start), problems
