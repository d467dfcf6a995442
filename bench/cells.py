"""Runs one measurement cell: the load generator as a child process, the gateways' CPU around it.

The load generator prints ``window_start`` and ``window_end`` at the edges of what it measures; the
harness reads the CPU counters of every watched process group (and the machine's) at those two
moments, so a cell's CPU figures cover exactly its measured window.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procstat import ProcessSampler, machine_cpu_times

__all__ = ["CellRun", "LoadgenError", "merge_loop_runs", "run_loadgen"]


class LoadgenError(RuntimeError):
    """The load generator failed or printed no result."""


@dataclass
class CellRun:
    result: dict[str, Any]
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds each watched group used inside the measured window."""
    machine_busy: float | None = None
    """Share of the machine's CPU time that was busy inside the window (0..1)."""


def run_loadgen(
    args: list[str],
    *,
    sampler: ProcessSampler,
    cwd: Path,
    log: Path,
    timeout_s: float,
    on_event: Callable[[str], None] | None = None,
) -> CellRun:
    """Run ``python -m bench.loadgen ARGS``; returns its result and the CPU used in its window.

    ``on_event`` is called with ``window_start`` and ``window_end`` as the load generator reports them
    (after the CPU counters are read); it must not block (the fault scenario starts its timer there).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=str(cwd),
            text=True,
        )
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    cpu_start: dict[str, float] = {}
    cpu_end: dict[str, float] = {}
    machine_start = machine_end = (0.0, 0.0)
    result: dict[str, Any] | None = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError as exc:  # kept for a look; the cell fails below without a result
                with log.open("a") as diagnosis:
                    diagnosis.write(f"bench: unreadable line from the load generator ({exc}; {len(line)} chars): ")
                    diagnosis.write(f"{line[:300]!r} ... {line[max(0, exc.pos - 300) : exc.pos + 300]!r}\n")
                continue
            event = message.pop("event")
            if event == "window_start":
                cpu_start = sampler.cpu_seconds()
                machine_start = machine_cpu_times()
            elif event == "window_end":
                cpu_end = sampler.cpu_seconds()
                machine_end = machine_cpu_times()
            elif event == "result":
                result = message
            if on_event is not None and event in ("window_start", "window_end"):
                on_event(event)
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code != 0 or result is None:
        raise LoadgenError(f"load generator exited with {code} (args {args}); see {log}")
    busy = machine_end[0] - machine_start[0]
    total = machine_end[1] - machine_start[1]
    return CellRun(
        result=result,
        cpu_s={name: cpu_end[name] - cpu_start.get(name, 0.0) for name in cpu_end},
        machine_busy=min(1.0, max(0.0, busy / total)) if total > 0 else None,
    )


def merge_loop_runs(runs: list[CellRun]) -> CellRun:
    """One cell from the parts of a closed- or open-loop cell measured at different times."""
    if len(runs) == 1:
        return runs[0]
    merged: dict[str, Any] = dict(runs[0].result)
    summed = (
        "window_s",
        "client_cpu_s",
        "ok",
        "errors",
        "scheduled",
        "sent",
        "late_sends",
        "missed_sends",
        "in_flight_at_end",
        "cut_after_window",
    )
    for key in summed:
        if key in merged:
            merged[key] = round(sum(r.result[key] for r in runs), 3)
    for key in ("latency_ms", "ttft_ms", "send_lag_ms", "service_ms"):
        if key in merged:
            merged[key] = [v for r in runs for v in r.result[key]]
    kinds: Counter[str] = Counter()
    for r in runs:
        kinds.update(r.result.get("error_kinds", {}))
    merged["error_kinds"] = dict(kinds)
    merged["throughput_rps"] = round(merged["ok"] / merged["window_s"], 2) if merged["window_s"] else 0.0
    merged["parts"] = len(runs)
    cpu: Counter[str] = Counter()
    for r in runs:
        cpu.update(r.cpu_s)
    busy = [r.machine_busy for r in runs if r.machine_busy is not None]
    return CellRun(merged, dict(cpu), sum(busy) / len(busy) if busy else None)
