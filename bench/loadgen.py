"""The load generator: a separate process that sends the requests and prints what it measured.

    python -m bench.loadgen --targets targets.json --mode sequential --target A --target B --rounds 50
    python -m bench.loadgen --targets targets.json --mode closed --target A --concurrency 200 --duration 10
    python -m bench.loadgen --targets targets.json --mode open --target A --rate 100 --duration 10

``targets.json`` maps a target id to ``{"url", "headers", "body", "stream"}`` (the harness writes
it). Modes:

- ``sequential``: one request at a time; each round sends one request to every ``--target`` in
  turn, the order rotated every round, so a gateway and the direct call see the same drift.
- ``closed``: ``--concurrency`` clients, each sending its next request when the last one is back,
  for ``--duration`` seconds after ``--warmup`` seconds.
- ``open``: requests started at a fixed ``--rate`` whatever the replies do; latency is counted from
  the *scheduled* send time (no coordinated omission); sends that could not start on time are
  reported (``late_sends``, ``send_lag_ms``), and sends dropped because ``--max-in-flight``
  requests were outstanding are ``missed_sends``. With ``--samples`` the result also lists every
  measured send as ``[offset_s, latency_ms, error, request_id]``: its scheduled time from the
  window's start, its latency from that time (``None`` when it failed), the error kind
  (``missed_send``, ``cut`` for one cancelled after the drain time, or the client's kind) and the
  reply's ``x-request-id`` (the fault scenario splits these by third).

stdout carries one JSON object per line: ``{"event": "ready"}``, ``{"event": "window_start"}`` and
``{"event": "window_end"}`` at the edges of the measured window (the harness reads the gateways'
CPU counters there), then ``{"event": "result", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.clients import Client, Outcome, PreparedRequest, make_client

__all__ = ["load_targets", "main"]

FIRST_WAVE_CAP_S = 30.0
"""The longest a closed loop waits for its first wave of replies before it measures anyway."""
DRAIN_S = 15.0
"""After a window ends, how long outstanding requests may take before they are cancelled (default)."""


def load_targets(path: Path) -> dict[str, PreparedRequest]:
    data = json.loads(path.read_text())
    return {
        name: PreparedRequest(
            name=name,
            url=spec["url"],
            headers=dict(spec.get("headers", {})),
            body=spec["body"].encode(),
            stream=bool(spec.get("stream", False)),
        )
        for name, spec in data.items()
    }


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


@dataclass
class Tally:
    """Outcomes of one target: latencies and TTFTs in ms of the good ones, and errors by kind."""

    latency_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return len(self.latency_ms)

    def add(self, outcome: Outcome, latency_s: float | None = None) -> None:
        if not outcome.ok:
            self.errors[outcome.error or "error"] += 1
            return
        self.latency_ms.append(_ms(outcome.latency_s if latency_s is None else latency_s))
        if outcome.ttft_s is not None:
            self.ttft_ms.append(_ms(outcome.ttft_s))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
        }


@dataclass
class Window:
    """The measured window: CPU of this process and wall time between its edges."""

    started: float = 0.0
    cpu_at_start: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def open(self) -> None:
        emit("window_start")
        self.started = time.perf_counter()
        self.cpu_at_start = cpu_seconds()

    def close(self) -> None:
        self.wall_s = time.perf_counter() - self.started
        self.cpu_s = cpu_seconds() - self.cpu_at_start
        emit("window_end")


async def run_sequential(
    client: Client, targets: list[PreparedRequest], rounds: int, warmup_rounds: int
) -> dict[str, Any]:
    """Per target, one latency (or ``None`` for a failed request) per round, in round order."""
    for r in range(warmup_rounds):
        for request in _rotated(targets, r):
            await client.send(request)
    latency: dict[str, list[float | None]] = {t.name: [] for t in targets}
    ttft: dict[str, list[float | None]] = {t.name: [] for t in targets}
    errors: dict[str, Counter[str]] = {t.name: Counter() for t in targets}
    window = Window()
    window.open()
    for r in range(rounds):
        for request in _rotated(targets, r):
            outcome = await client.send(request)
            latency[request.name].append(_ms(outcome.latency_s) if outcome.ok else None)
            ttft[request.name].append(_ms(outcome.ttft_s) if outcome.ok and outcome.ttft_s is not None else None)
            if not outcome.ok:
                errors[request.name][outcome.error or "error"] += 1
    window.close()
    return {
        "rounds": rounds,
        "window_s": round(window.wall_s, 3),
        "client_cpu_s": round(window.cpu_s, 3),
        "targets": {
            name: {
                "latency_ms": latency[name],
                "ttft_ms": ttft[name],
                "errors": sum(errors[name].values()),
                "error_kinds": dict(errors[name]),
            }
            for name in latency
        },
    }


def _rotated(targets: list[PreparedRequest], round_index: int) -> list[PreparedRequest]:
    k = round_index % len(targets)
    return targets[k:] + targets[:k]


async def run_closed(
    client: Client, request: PreparedRequest, concurrency: int, duration_s: float, warmup_s: float, drain_s: float
) -> dict[str, Any]:
    """``concurrency`` clients in a loop; requests that complete inside the window are counted.

    The window opens after ``warmup_s`` and after the first wave (every client has had one reply,
    or :data:`FIRST_WAVE_CAP_S` passed): the first requests all start together, and at high
    concurrency a slow gateway answers none of them for seconds. ``in_flight_at_end`` says how
    many requests were outstanding when the window closed.
    """
    tally = Tally()
    window = Window()
    measuring = False
    stop = asyncio.Event()
    first_wave = asyncio.Event()
    busy = answered = 0

    async def worker() -> None:
        nonlocal busy, answered
        first = True
        while not stop.is_set():
            busy += 1
            outcome = await client.send(request)
            busy -= 1
            if first:
                first = False
                answered += 1
                if answered == concurrency:
                    first_wave.set()
            if measuring and not stop.is_set():
                tally.add(outcome)

    started = time.perf_counter()
    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup_s)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(first_wave.wait(), FIRST_WAVE_CAP_S)
    warmed_s = time.perf_counter() - started
    window.open()
    measuring = True
    await asyncio.sleep(duration_s)
    stop.set()
    window.close()
    in_flight_at_end = busy
    cut = await _drain(tasks, drain_s)
    return {
        "concurrency": concurrency,
        "warmup_s": round(warmed_s, 3),
        "in_flight_at_end": in_flight_at_end,
        "cut_after_window": cut,
        "window_s": round(window.wall_s, 3),
        "client_cpu_s": round(window.cpu_s, 3),
        "throughput_rps": round(tally.ok / window.wall_s, 2) if window.wall_s else 0.0,
        **tally.to_dict(),
    }


async def run_open(
    client: Client,
    request: PreparedRequest,
    rate: float,
    duration_s: float,
    warmup_s: float,
    max_in_flight: int,
    drain_s: float,
    samples: bool = False,
) -> dict[str, Any]:
    """Sends at ``rate`` per second: ``warmup_s * rate`` sends, then ``duration_s * rate`` measured ones.

    With ``samples``, the result's ``samples`` holds one ``[offset_s, latency_ms, error, request_id]``
    per measured send, in schedule order.
    """
    tally = Tally()
    service = Tally()
    window = Window()
    interval = 1.0 / rate
    lags_ms: list[float] = []
    rows: list[list[Any]] = []
    late = missed = 0
    in_flight: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()

    async def one(scheduled: float, measured: bool, row: list[Any] | None) -> None:
        sent = loop.time()
        outcome = await client.send(request)
        if measured:
            latency_s = outcome.latency_s + (sent - scheduled)
            tally.add(outcome, latency_s=latency_s)
            service.add(outcome)
            if row is not None:
                failed = None if outcome.ok else outcome.error or "error"
                row[1:] = [None if failed else _ms(latency_s), failed, outcome.request_id]

    warmup_sends = round(warmup_s * rate)
    measured_sends = max(1, round(duration_s * rate))
    start = loop.time() + 0.05
    window_end = start + (warmup_sends + measured_sends) * interval
    for i in range(warmup_sends + measured_sends):
        scheduled = start + i * interval
        measured = i >= warmup_sends
        if i == warmup_sends:
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            window.open()
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = loop.time() - scheduled
        if measured:
            lags_ms.append(_ms(lag))
            late += lag > interval
        row: list[Any] | None = None
        if measured and samples:
            # a send cancelled after the drain time keeps "cut"; a missed one is marked below
            row = [round((i - warmup_sends) * interval, 6), None, "cut", None]
            rows.append(row)
        if len(in_flight) >= max_in_flight:
            missed += measured
            if row is not None:
                row[2] = "missed_send"
            continue
        task = asyncio.create_task(one(scheduled, measured, row))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.sleep(max(0.0, window_end - loop.time()))
    window.close()
    in_flight_at_end = len(in_flight)
    cut = await _drain(list(in_flight), drain_s)
    scheduled_in_window = len(lags_ms)
    extra: dict[str, Any] = {"samples": rows} if samples else {}
    return {
        "rate": rate,
        "in_flight_at_end": in_flight_at_end,
        "cut_after_window": cut,
        "window_s": round(window.wall_s, 3),
        "client_cpu_s": round(window.cpu_s, 3),
        "scheduled": scheduled_in_window,
        "sent": scheduled_in_window - missed,
        "late_sends": late,
        "missed_sends": missed,
        "send_lag_ms": lags_ms,
        "throughput_rps": round(tally.ok / window.wall_s, 2) if window.wall_s else 0.0,
        **tally.to_dict(),
        "service_ms": service.latency_ms,
        **extra,
    }


async def _drain(tasks: list[asyncio.Task[None]], timeout_s: float) -> int:
    """Wait for outstanding requests, cancel those still running after ``timeout_s``; returns how many."""
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=timeout_s)
    for task in pending:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*pending, return_exceptions=True)
    return len(pending)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen", description="Turnout's benchmark load generator.")
    p.add_argument("--targets", type=Path, required=True, help="JSON file: target id -> request")
    p.add_argument("--target", action="append", required=True, help="target id (repeat for sequential)")
    p.add_argument("--mode", choices=["sequential", "closed", "open"], required=True)
    p.add_argument("--client", choices=["raw", "httpx"], default="raw")
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--warmup-rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--max-in-flight", type=int, default=2000)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--drain", type=float, default=DRAIN_S, help="seconds outstanding requests get after a window")
    p.add_argument("--samples", action="store_true", help="open loop: list every measured send in the result")
    return p


def _event_loop_runner() -> tuple[str, Callable[[Coroutine[Any, Any, dict[str, Any]]], dict[str, Any]]]:
    try:
        import uvloop
    except ImportError:
        return "asyncio", asyncio.run
    return "uvloop", uvloop.run


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    catalog = load_targets(args.targets)
    unknown = [t for t in args.target if t not in catalog]
    if unknown:
        print(f"unknown targets {unknown}; known: {sorted(catalog)}", file=sys.stderr)
        return 2
    targets = [catalog[t] for t in args.target]
    if args.mode != "sequential" and len(targets) != 1:
        print(f"--mode {args.mode} takes exactly one --target", file=sys.stderr)
        return 2
    loop_name, run = _event_loop_runner()

    async def measure() -> dict[str, Any]:
        client = make_client(args.client, args.timeout, max(args.concurrency, args.max_in_flight) + 16)
        work: Awaitable[dict[str, Any]]
        if args.mode == "sequential":
            work = run_sequential(client, targets, args.rounds, args.warmup_rounds)
        elif args.mode == "closed":
            work = run_closed(client, targets[0], args.concurrency, args.duration, args.warmup, args.drain)
        else:
            work = run_open(
                client,
                targets[0],
                args.rate,
                args.duration,
                args.warmup,
                args.max_in_flight,
                args.drain,
                args.samples,
            )
        try:
            return await work
        finally:
            await client.close()

    emit("ready")
    result = run(measure())
    emit("result", mode=args.mode, client=args.client, loop=loop_name, targets_requested=args.target, **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
