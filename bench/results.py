"""From load-generator output to the result document: summaries, flat figures, ratios, issue targets.

Everything here is pure (no processes, no network), so the shape of ``bench/results/latest.json``
is tested without running a benchmark. Figure names are flat dotted keys per system, e.g.
``sequential.60ms.added_p50_ms`` or ``closed.60ms.c200.throughput_rps``; every Turnout figure gets
its ratio to each LiteLLM setting, to the best LiteLLM setting, and to the direct call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.stats import LatencySummary, paired_differences, ratio, summarize

__all__ = [
    "RATIO_SUFFIXES",
    "CpuAttribution",
    "complete_document",
    "figures_of",
    "higher_is_better",
    "issue_targets",
    "loop_summary",
    "memory_by_system",
    "ratios",
    "sequential_summary",
    "streaming_summary",
]

RATIO_SUFFIXES = ("_ms", "_rps", "_mb", "cpu_ms_per_request", "cpu_s", "_cores")
"""Figures that get ratios (counts such as ``errors`` do not)."""


def _summary(values: Iterable[float | None]) -> LatencySummary:
    return summarize([v for v in values if v is not None])


def sequential_summary(result: Mapping[str, Any], baseline: str) -> dict[str, dict[str, Any]]:
    """Per target of a sequential non-streaming run: latency, and added latency against ``baseline``."""
    targets = result["targets"]
    base = targets[baseline]["latency_ms"]
    out: dict[str, dict[str, Any]] = {}
    for name, data in targets.items():
        entry: dict[str, Any] = {
            "latency_ms": _summary(data["latency_ms"]).to_dict(),
            "errors": data["errors"],
            "error_kinds": data["error_kinds"],
        }
        if name != baseline:
            entry["added_ms"] = summarize(paired_differences(data["latency_ms"], base)).to_dict()
        out[name] = entry
    return out


def streaming_summary(result: Mapping[str, Any], baseline: str) -> dict[str, dict[str, Any]]:
    """Per target of a sequential streaming run: time to first content chunk and total, and both added."""
    targets = result["targets"]
    base = targets[baseline]
    out: dict[str, dict[str, Any]] = {}
    for name, data in targets.items():
        entry: dict[str, Any] = {
            "ttft_ms": _summary(data["ttft_ms"]).to_dict(),
            "total_ms": _summary(data["latency_ms"]).to_dict(),
            "errors": data["errors"],
            "error_kinds": data["error_kinds"],
        }
        if name != baseline:
            entry["added_ttft_ms"] = summarize(paired_differences(data["ttft_ms"], base["ttft_ms"])).to_dict()
            entry["added_total_ms"] = summarize(paired_differences(data["latency_ms"], base["latency_ms"])).to_dict()
        out[name] = entry
    return out


@dataclass(frozen=True, slots=True)
class CpuAttribution:
    """Which sampler groups belong to the system measured in a cell, and which are shared services."""

    system_groups: tuple[str, ...]
    services: Mapping[str, str]
    """Figure name -> sampler group (``kafka_s`` -> ``kafka``)."""


def loop_summary(
    result: Mapping[str, Any], cpu_s: Mapping[str, float], machine_busy: float | None, cpu: CpuAttribution
) -> dict[str, Any]:
    """A closed- or open-loop cell: throughput, errors, latency, and CPU per request."""
    ok = int(result["ok"])
    gateway_cpu = sum(cpu_s.get(g, 0.0) for g in cpu.system_groups)
    services = {figure: cpu_s.get(group, 0.0) for figure, group in cpu.services.items()}
    others = sum(v for g, v in cpu_s.items() if g not in cpu.system_groups and g not in cpu.services.values())
    nothing_completed = ok == 0 and result["errors"] == 0
    entry: dict[str, Any] = {
        # no request completing inside the window measures no throughput (the window was too short)
        "throughput_rps": None if nothing_completed else result["throughput_rps"],
        "ok": ok,
        "errors": result["errors"],
        "error_kinds": result["error_kinds"],
        "window_s": result["window_s"],
        "warmup_s": result.get("warmup_s"),
        "in_flight_at_end": result.get("in_flight_at_end"),
        "cut_after_window": result.get("cut_after_window"),
        "latency_ms": summarize(result["latency_ms"]).to_dict(),
        "cpu": {
            "gateway_s": round(gateway_cpu, 3),
            "per_request_ms": round(gateway_cpu * 1000 / ok, 4) if ok and cpu.system_groups else None,
            "per_request_with_services_ms": (
                round((gateway_cpu + sum(services.values())) * 1000 / ok, 4) if ok and cpu.system_groups else None
            ),
            "processes": {g: round(cpu_s.get(g, 0.0), 3) for g in cpu.system_groups},
            **{k: round(v, 3) for k, v in services.items()},
            "other_systems_s": round(others, 3),
            "client_s": result["client_cpu_s"],
            "machine_busy": None if machine_busy is None else round(machine_busy, 3),
        },
    }
    if "scheduled" in result:
        entry.update(
            rate=result["rate"],
            scheduled=result["scheduled"],
            sent=result["sent"],
            late_sends=result["late_sends"],
            missed_sends=result["missed_sends"],
            send_lag_ms=summarize([max(0.0, v) for v in result["send_lag_ms"]]).to_dict(),
            service_ms=summarize(result["service_ms"]).to_dict(),
        )
    return entry


def figures_of(document: Mapping[str, Any]) -> dict[str, dict[str, float | int | None]]:
    """Flat figures per system from the document's sections (sequential, streaming, loops, fault, memory)."""
    figures: dict[str, dict[str, float | int | None]] = {}

    def put(system: str, key: str, value: float | int | None) -> None:
        figures.setdefault(system, {})[key] = value

    for delay, systems in document.get("sequential", {}).items():
        for system, e in systems.items():
            put(system, f"sequential.{delay}.latency_p50_ms", e["latency_ms"]["p50"])
            put(system, f"sequential.{delay}.latency_p99_ms", e["latency_ms"]["p99"])
            put(system, f"sequential.{delay}.errors", e["errors"])
            if "added_ms" in e:
                put(system, f"sequential.{delay}.added_p50_ms", e["added_ms"]["p50"])
                put(system, f"sequential.{delay}.added_p99_ms", e["added_ms"]["p99"])
    for delay, systems in document.get("streaming", {}).items():
        for system, e in systems.items():
            put(system, f"streaming.{delay}.ttft_p50_ms", e["ttft_ms"]["p50"])
            put(system, f"streaming.{delay}.ttft_p99_ms", e["ttft_ms"]["p99"])
            put(system, f"streaming.{delay}.total_p50_ms", e["total_ms"]["p50"])
            put(system, f"streaming.{delay}.errors", e["errors"])
            if "added_ttft_ms" in e:
                put(system, f"streaming.{delay}.added_ttft_p50_ms", e["added_ttft_ms"]["p50"])
                put(system, f"streaming.{delay}.added_ttft_p99_ms", e["added_ttft_ms"]["p99"])
    for section, prefix in (("closed_loop", "closed"), ("open_loop", "open")):
        for delay, cells in document.get(section, {}).items():
            for cell, systems in cells.items():
                for system, e in systems.items():
                    key = f"{prefix}.{delay}.{cell}"
                    put(system, f"{key}.throughput_rps", e["throughput_rps"])
                    put(system, f"{key}.latency_p50_ms", e["latency_ms"]["p50"])
                    put(system, f"{key}.latency_p99_ms", e["latency_ms"]["p99"])
                    put(system, f"{key}.errors", e["errors"])
                    if e["cpu"]["per_request_ms"] is not None:
                        put(system, f"{key}.cpu_ms_per_request", e["cpu"]["per_request_ms"])
                    if "missed_sends" in e:
                        put(system, f"{key}.missed_sends", e["missed_sends"])
                        put(system, f"{key}.late_sends", e["late_sends"])
    for system, e in document.get("fault", {}).get("systems", {}).items():
        for third in e["thirds"]:
            key = f"fault.{third['phase']}"
            put(system, f"{key}.success_rate", third["success_rate"])
            put(system, f"{key}.latency_p50_ms", third["latency_ms"]["p50"])
            put(system, f"{key}.latency_p99_ms", third["latency_ms"]["p99"])
            put(system, f"{key}.fallback_share", third["fallback_share"])
        put(system, "fault.breaker_opened_after_s", e["breaker_opened_after_s"])
        put(system, "fault.breaker_closed_after_s", e["breaker_closed_after_s"])
    for system, memory in document.get("memory", {}).items():
        put(system, "memory.peak_rss_mb", memory["peak_rss_mb"])
        put(system, "memory.peak_rss_sum_mb", memory["peak_rss_sum_mb"])
        put(system, "cpu.total_cpu_s", memory["cpu_s"])
        for group, usage in memory["processes"].items():
            role = _role(group)
            key = f"memory.{role}_peak_rss_mb"
            put(system, key, max(usage["peak_rss_mb"], figures[system].get(key) or 0.0))
    idle = document.get("idle", {}).get("cores", {})
    for system in list(figures):
        groups = [v for g, v in idle.items() if g.startswith(f"{system}/")]
        if groups:
            put(system, "idle.cpu_cores", round(sum(groups), 4))
    return figures


def _role(group: str) -> str:
    """``turnout-fused/worker-1`` -> ``worker``; ``litellm-w2/proxy`` -> ``proxy``."""
    return group.rsplit("/", 1)[-1].split("-", 1)[0]


def higher_is_better(figure: str) -> bool:
    return figure.endswith("_rps")


def ratios(
    figures: Mapping[str, Mapping[str, float | int | None]], turnout: Iterable[str], litellm: Iterable[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """For each Turnout system and figure: its value over each LiteLLM setting's, the best one's, direct's.

    The fault scenario's figures (``fault.*``) get none: only Turnout runs it.
    """
    litellm = list(litellm)
    direct = figures.get("direct", {})
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for system in turnout:
        for key, value in figures.get(system, {}).items():
            if not key.endswith(RATIO_SUFFIXES) or key.startswith("fault."):
                continue
            theirs = {name: figures.get(name, {}).get(key) for name in litellm}
            present = [v for v in theirs.values() if v is not None]
            best = (max if higher_is_better(key) else min)(present) if present else None
            out.setdefault(system, {})[key] = {
                "value": value,
                "vs_litellm": {name: _r(ratio(value, v)) for name, v in theirs.items()},
                "vs_best_litellm": _r(ratio(value, best)),
                "vs_direct": _r(ratio(value, direct.get(key))),
            }
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _best(figures: Mapping[str, Mapping[str, Any]], litellm: list[str], key: str) -> float | None:
    present = [figures.get(n, {}).get(key) for n in litellm]
    values = [v for v in present if v is not None]
    if not values:
        return None
    return max(values) if higher_is_better(key) else min(values)


def issue_targets(
    figures: Mapping[str, Mapping[str, Any]],
    litellm: list[str],
    delays: Iterable[str],
    peak_rss_mb: Mapping[str, float],
) -> list[dict[str, Any]]:
    """Issue 10's targets, each met, missed, or ``None`` (not measured); LiteLLM at its best setting.

    ``peak_rss_mb`` maps a Turnout process group (``turnout-fused/gateway``) to its peak RSS.
    """
    rows: list[dict[str, Any]] = []

    def row(text: str, system: str, key: str, threshold: float | None, met: bool | None) -> None:
        value = figures.get(system, {}).get(key)
        rows.append(
            {
                "target": text,
                "system": system,
                "figure": key,
                "value": value,
                "threshold": None if threshold is None else round(threshold, 3),
                "met": met,
            }
        )

    def check(value: Any, threshold: float | None, test: Any) -> bool | None:
        return None if value is None or threshold is None else bool(test(value, threshold))

    fused, split = figures.get("turnout-fused", {}), figures.get("turnout-split", {})
    for d in delays:
        for q, factor, text in (
            ("p50", 0.5, "added latency p50 (sequential, fused) at most half of LiteLLM's"),
            ("p99", 1.0, "added latency p99 (sequential, fused) below LiteLLM's"),
        ):
            key = f"sequential.{d}.added_{q}_ms"
            theirs = _best(figures, litellm, key)
            threshold = None if theirs is None else theirs * factor
            strict = q == "p99"
            row(
                text,
                "turnout-fused",
                key,
                threshold,
                check(fused.get(key), threshold, (lambda v, t: v < t) if strict else (lambda v, t: v <= t)),
            )
        key = f"sequential.{d}.added_p50_ms"
        row(
            "added latency p50 (sequential, split) under 10 ms",
            "turnout-split",
            key,
            10.0,
            check(split.get(key), 10.0, lambda v, t: v < t),
        )
        key = f"streaming.{d}.added_ttft_p50_ms"
        row(
            "time to first token added, p50 (fused), at most 5 ms",
            "turnout-fused",
            key,
            5.0,
            check(fused.get(key), 5.0, lambda v, t: v <= t),
        )
    # the throughput target names no layout: it is judged for the layout that got the most through
    # (a deployment picks its layout; both layouts' figures are in the tables)
    key = "closed.60ms.c200.throughput_rps"
    theirs = _best(figures, litellm, key)
    layouts = [s for s in ("turnout-fused", "turnout-split") if figures.get(s, {}).get(key) is not None]
    system = max(layouts, key=lambda s: figures[s][key]) if layouts else "turnout-fused"
    mine = figures.get(system, {})
    threshold = None if not theirs else 3 * theirs
    met = check(mine.get(key), threshold, lambda v, t: v >= t)
    if met is not None:
        met = met and mine.get("closed.60ms.c200.errors") == 0
    row("throughput at 200 clients, 60 ms upstream: at least 3x LiteLLM's, zero errors", system, key, threshold, met)
    for group, peak in sorted(peak_rss_mb.items()):
        rows.append(
            {
                "target": "ingress and worker memory each under 300 MB",
                "system": group,
                "figure": "memory.peak_rss_mb",
                "value": round(peak, 1),
                "threshold": 300.0,
                "met": peak < 300.0,
            }
        )
    return rows


def memory_by_system(resources: Mapping[str, Mapping[str, Any]], systems: Iterable[str]) -> dict[str, Any]:
    """Per gateway: its largest process peak, the sum of its processes' peaks, CPU over the run."""
    memory: dict[str, Any] = {}
    for name in systems:
        groups = {g: u for g, u in resources.items() if g.startswith(f"{name}/")}
        if name == "direct" or not groups:
            continue
        memory[name] = {
            "peak_rss_mb": max(u["peak_rss_mb"] for u in groups.values()),
            "peak_rss_sum_mb": round(sum(max(u["peak_rss_sum_mb"], u["peak_rss_mb"]) for u in groups.values()), 1),
            "cpu_s": round(sum(u["cpu_s"] for u in groups.values()), 3),
            "processes": {g: {"peak_rss_mb": u["peak_rss_mb"], "cpu_s": u["cpu_s"]} for g, u in groups.items()},
        }
    return memory


def complete_document(document: dict[str, Any], systems: list[str], delays_ms: Iterable[int]) -> None:
    """Add ``memory``, ``figures``, ``ratios`` and ``targets`` to a document holding the measurements."""
    resources = document.get("resources", {})
    document["memory"] = memory_by_system(resources, systems)
    figures = figures_of(document)
    document["figures"] = figures
    turnout = [n for n in systems if n.startswith("turnout-")]
    litellm = [n for n in systems if n.startswith("litellm-")]
    document["ratios"] = ratios(figures, turnout, litellm)
    peaks = {
        g: u["peak_rss_mb"]
        for g, u in resources.items()
        if g.startswith("turnout-") and (g.endswith("/gateway") or "/worker-" in g)
    }
    document["targets"] = issue_targets(figures, litellm, [f"{d}ms" for d in delays_ms], peaks)
