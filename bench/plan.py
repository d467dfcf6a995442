"""How much to measure: the quick smoke plan and the full reporting plan."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["METHOD", "Plan", "full_plan", "quick_plan"]

# how the cells measure, written into every result file
METHOD = {
    "sequential": "one request at a time; each round sends one request to every system, the order rotated "
    "per round; added latency = system minus direct in the same round; every system running",
    "loops": "one system at a time, the order rotated per cell; the other Turnout stacks' gateways and "
    "workers frozen (SIGSTOP), their sinks and LiteLLM running idle; open-loop latency counted from the "
    "scheduled send time",
    "cpu": "utime+stime from /proc/<pid>/stat, read at the load generator's window edges",
    "memory": "VmHWM (peak RSS) from /proc/<pid>/status; group sums sampled every 0.25 s",
    "turnout_config": "config/turnout.yaml with its own topic prefix, ports, chDB path, layout, "
    "kafka.session_timeout_ms 120000 (so frozen workers keep their group), bench-<ms>ms models; with the "
    "fault scenario also its model (primary, backup) and breakers failure_threshold 3, open_s 2",
    "fault": "open loop at a fixed rate in three equal thirds on a model with a primary and a backup "
    "deployment (simulator models of the same delay); the primary answers 503 during the middle third "
    "(simulator fault rule); per third: requests, success rate, latency of the good ones from the "
    "scheduled send time, and from ClickHouse (by x-request-id) the deployment that answered",
}


@dataclass(frozen=True, slots=True)
class Plan:
    mode: str
    delays_ms: tuple[int, ...]
    """Upstream delays of the sequential (latency) runs, streaming and not."""
    sequential_rounds: int
    stream_rounds: int
    warmup_rounds: int
    loop_delays_ms: tuple[int, ...]
    """Upstream delays of the closed-loop runs."""
    concurrency: tuple[int, ...]
    loop_duration_s: float
    """Measured seconds per closed- or open-loop cell, split evenly over ``loop_repeats``."""
    loop_warmup_s: float
    loop_repeats: int
    """Each loop cell is measured in this many parts, the order of the systems reversed each time."""
    open_delays_ms: tuple[int, ...]
    open_rate: float
    litellm_workers: tuple[int, ...]
    turnout_workers: int
    calibration_s: float
    """Seconds per client in the load generator's calibration (raw against httpx, direct)."""
    idle_s: float
    """Seconds over which every process's CPU use at rest is measured."""
    drain_s: float
    """After a loop cell's window, how long its outstanding requests may take before they are cut."""
    load_warmup_s: float = 0.0
    """Before the first cell, each gateway in turn serves a closed loop (50 clients, 0 ms upstream)
    this long: Kafka's JVM compiles its hot paths under load, and a broker started minutes before
    took 2.1-2.4 ms a hop where a warm one takes 1.0-1.15 (bench/README.md)."""
    client: str = "raw"
    partitions: int | None = None
    """Partitions of Turnout's topics; ``None`` keeps config/turnout.yaml's."""
    fault_systems: tuple[str, ...] = ()
    """Systems that run the fault scenario (bench/fault.py); empty: none."""
    fault_delay_ms: int = 60
    """Upstream delay of the fault scenario's primary and backup."""
    fault_rate: float = 50.0
    """Requests per second of the fault scenario's open loop."""
    fault_third_s: float = 4.0
    """Seconds per third of the fault scenario (the primary fails during the second)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **changes: Any) -> Plan:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _cores() -> int:
    return os.cpu_count() or 1


def quick_plan() -> Plan:
    """A smoke run: every cell once, tiny counts, a few seconds per loop, one LiteLLM setting."""
    return Plan(
        mode="quick",
        delays_ms=(0, 60),
        sequential_rounds=10,
        stream_rounds=6,
        warmup_rounds=1,
        loop_delays_ms=(60,),
        concurrency=(50, 200),
        loop_duration_s=1.5,
        loop_warmup_s=0.3,
        loop_repeats=1,
        open_delays_ms=(60,),
        open_rate=50.0,
        litellm_workers=(1,),
        turnout_workers=2,
        calibration_s=0.5,
        idle_s=1.5,
        drain_s=1.0,
        fault_systems=("turnout-fused",),
        fault_rate=50.0,
        fault_third_s=4.0,
    )


def full_plan() -> Plan:
    """The reporting run (about 13 minutes on 2 cores, estimated from the plan)."""
    return Plan(
        mode="full",
        delays_ms=(0, 60),
        sequential_rounds=150,
        stream_rounds=100,
        warmup_rounds=10,
        loop_delays_ms=(0, 60),
        concurrency=(50, 200),
        loop_duration_s=8.0,
        loop_warmup_s=1.5,
        loop_repeats=2,
        open_delays_ms=(60,),
        open_rate=100.0,
        litellm_workers=tuple(sorted({1, _cores()})),
        turnout_workers=2,
        calibration_s=3.0,
        idle_s=10.0,
        drain_s=10.0,
        fault_systems=("turnout-fused", "turnout-split"),
        fault_rate=50.0,
        fault_third_s=10.0,
        load_warmup_s=10.0,
    )
