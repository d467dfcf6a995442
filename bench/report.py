"""The readable tables printed at the end of a run, rendered from the result document alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_table", "render"]


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    cells = [list(headers), *[[_fmt(v) if not isinstance(v, str) else v for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title] if title else []
    for n, row in enumerate(cells):
        lines.append(
            "  "
            + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _get(mapping: Mapping[str, Any], *path: str) -> Any:
    value: Any = mapping
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _header(doc: Mapping[str, Any]) -> str:
    m, v = doc.get("machine", {}), doc.get("versions", {})
    cal = doc.get("client_calibration", {})
    lines = [
        f"Turnout benchmark, {doc.get('mode')} mode: {doc.get('note')} (run {doc.get('run_id')}, "
        f"{doc.get('duration_s')} s)",
        f"  machine: {m.get('cpu_model')}, {m.get('cores')} cores, {m.get('memory_gb')} GB, kernel {m.get('kernel')}, "
        f"Python {m.get('python')}; load average {m.get('load_average')} -> {m.get('load_average_end')}",
        f"  versions: turnout {v.get('turnout')}, faust {v.get('faust-streaming')}, aiokafka {v.get('aiokafka')}, "
        f"confluent-kafka {v.get('confluent-kafka')}, Kafka {v.get('kafka_broker')}, litellm {v.get('litellm')}",
    ]
    if cal:
        parts = [
            f"{c} {cal[c]['throughput_rps']} rps at {cal[c]['client_cpu_us_per_request']} us CPU/request"
            for c in ("raw", "httpx")
            if c in cal
        ]
        lines.append(
            f"  load generator client: {cal.get('chosen')} (calibration, direct, 50 clients: {'; '.join(parts)})"
        )
    return "\n".join(lines)


# column label -> (figure, percentile), per upstream delay
_SEQUENTIAL_COLUMNS = (
    ("p50", "latency_ms", "p50"),
    ("p99", "latency_ms", "p99"),
    ("+p50", "added_ms", "p50"),
    ("+p99", "added_ms", "p99"),
)
_STREAMING_COLUMNS = (
    ("TTFT p50", "ttft_ms", "p50"),
    ("+TTFT p50", "added_ttft_ms", "p50"),
    ("+TTFT p99", "added_ttft_ms", "p99"),
    ("total p50", "total_ms", "p50"),
)


def _per_delay(doc: Mapping[str, Any], name: str, columns: tuple[tuple[str, str, str], ...], title: str) -> str:
    """A table of systems by (delay, column) for a section keyed delay -> system -> figures."""
    section = doc.get(name, {})
    if not section:
        return ""
    headers = ["system"] + [f"{delay} {label}" for delay in section for label, _, _ in columns]
    rows = []
    for system in next(iter(section.values())):
        row: list[Any] = [system]
        for delay in section:
            figures = section[delay].get(system, {})
            row += [_get(figures, figure, pct) for _, figure, pct in columns]
        rows.append(row)
    return format_table(headers, rows, title)


def _sequential(doc: Mapping[str, Any]) -> str:
    return _per_delay(
        doc,
        "sequential",
        _SEQUENTIAL_COLUMNS,
        "Sequential, non-streaming (ms; +: added latency, gateway minus direct in the same round)",
    )


def _streaming(doc: Mapping[str, Any]) -> str:
    return _per_delay(
        doc, "streaming", _STREAMING_COLUMNS, "Streaming, sequential (ms; TTFT: time to the first content chunk)"
    )


def _loops(doc: Mapping[str, Any], section: str, title: str) -> str:
    open_loop = section == "open_loop"
    rows = []
    for delay, by_cell in doc.get(section, {}).items():
        for cell, systems in by_cell.items():
            for system, e in systems.items():
                row = [
                    f"{delay} {cell}",
                    system,
                    e["throughput_rps"],
                    e["errors"],
                    e["latency_ms"]["p50"],
                    e["latency_ms"]["p99"],
                    _fmt(e["cpu"]["per_request_ms"], 2),
                    _fmt(e["cpu"]["machine_busy"], 2),
                ]
                if open_loop:
                    row += [f"{e['missed_sends']}/{e['late_sends']}", e.get("in_flight_at_end")]
                rows.append(row)
    if not rows:
        return ""
    headers = ["cell", "system", "rps", "errors", "p50 ms", "p99 ms", "CPU ms/req", "busy"]
    if open_loop:
        headers += ["missed/late", "open at end"]
    return format_table(headers, rows, title)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _fault(doc: Mapping[str, Any]) -> str:
    section = doc.get("fault") or {}
    systems = section.get("systems") or {}
    if not systems:
        return ""
    sc = section.get("scenario", {})
    rows = []
    notes = []
    for system, e in systems.items():
        for t in e["thirds"]:
            share = t["fallback_share"]
            rows.append(
                [
                    system,
                    f"{t['third']} {t['phase']}",
                    t["requests"],
                    _percent(t["success_rate"]),
                    t["errors"],
                    t["latency_ms"]["p50"],
                    t["latency_ms"]["p99"],
                    f"{t['to_backup']} ({_percent(share)})" if share is not None else "-",
                    f"{t['primary_calls']}/{t['primary_failed']}",
                    t["primary_skipped"],
                    f"{t['logged']}/{t['requests']}",
                ]
            )
        moves = " ".join(f"{m['state']}@{m['at_s']:.2f}" for m in e.get("breaker", [])) or "no transitions"
        notes.append(
            f"  {system}: fault on {_fmt(e['fault_on_s'], 2)} s to {_fmt(e['fault_off_s'], 2)} s; "
            f"primary's breaker (s from the window's start): {moves}; opened {_fmt(e['breaker_opened_after_s'], 2)} s "
            f"after the fault began, last closed {_fmt(e['breaker_closed_after_s'], 2)} s after it ended"
        )
    headers = [
        "system",
        "third",
        "requests",
        "success",
        "errors",
        "p50 ms",
        "p99 ms",
        "to backup",
        "primary calls/failed",
        "breaker skips",
        "logged",
    ]
    title = (
        f"Fault scenario: {sc.get('model')} (primary, then backup), the primary answers "
        f"{_get(sc, 'fault', 'knobs', 'error_status')} in the middle third (open loop {_fmt(sc.get('rate'), 0)}/s, "
        f"3 x {_fmt(sc.get('third_s'), 1)} s; latency of the good requests from the scheduled send time; "
        "to backup: share of the good requests found in ClickHouse)"
    )
    return format_table(headers, rows, title) + "\n" + "\n".join(notes)


KEY_FIGURES = (
    "sequential.0ms.added_p50_ms",
    "sequential.0ms.added_p99_ms",
    "sequential.60ms.added_p50_ms",
    "sequential.60ms.added_p99_ms",
    "streaming.0ms.added_ttft_p50_ms",
    "streaming.60ms.added_ttft_p50_ms",
    "closed.60ms.c50.throughput_rps",
    "closed.60ms.c200.throughput_rps",
    "closed.60ms.c200.latency_p99_ms",
    "closed.60ms.c200.cpu_ms_per_request",
    "memory.peak_rss_sum_mb",
    "idle.cpu_cores",
)


def _ratios(doc: Mapping[str, Any]) -> str:
    rows = []
    for system, figures in doc.get("ratios", {}).items():
        for key in KEY_FIGURES:
            r = figures.get(key)
            if r is None:
                continue
            vs = r["vs_litellm"]
            rows.append(
                [
                    system,
                    key,
                    r["value"],
                    *(_fmt(vs.get(n), 2) for n in _litellm_names(doc)),
                    _fmt(r["vs_best_litellm"], 2),
                    _fmt(r["vs_direct"], 2),
                ]
            )
    if not rows:
        return ""
    headers = ["system", "figure", "value", *(f"x {n}" for n in _litellm_names(doc)), "x best LiteLLM", "x direct"]
    return format_table(headers, rows, "Turnout against LiteLLM and direct (ratios of the figure)")


def _litellm_names(doc: Mapping[str, Any]) -> list[str]:
    return [n for n in doc.get("systems", {}) if n.startswith("litellm-")]


def _resources(doc: Mapping[str, Any]) -> str:
    idle = _get(doc, "idle", "cores") or {}
    rows = [
        [name, u["cpu_s"], _fmt(idle.get(name), 3), u["peak_rss_mb"], u["peak_rss_sum_mb"], len(u["pids"])]
        for name, u in doc.get("resources", {}).items()
    ]
    if not rows:
        return ""
    headers = ["process group", "CPU s", "idle cores", "peak RSS MB", "peak sum MB", "pids"]
    title = "Processes (CPU: since the measurements began; idle: cores used with no load; peak RSS: VmHWM)"
    return format_table(headers, rows, title)


def _targets(doc: Mapping[str, Any]) -> str:
    rows = [
        [
            {True: "met", False: "MISSED", None: "n/a"}[t["met"]],
            t["target"],
            t["system"],
            t["figure"],
            t["value"],
            t["threshold"],
        ]
        for t in doc.get("targets", [])
    ]
    if not rows:
        return ""
    return format_table(["", "issue 10 target", "system", "figure", "value", "threshold"], rows, "Targets")


def render(doc: Mapping[str, Any]) -> str:
    parts = [
        _header(doc),
        _sequential(doc),
        _streaming(doc),
        _loops(
            doc, "closed_loop", "Closed loop (non-streaming; CPU ms/req: the gateway's own processes; busy: machine)"
        ),
        _loops(doc, "open_loop", "Open loop at a fixed rate (latency from the scheduled send time)"),
        _fault(doc),
        _ratios(doc),
        _resources(doc),
        _targets(doc),
    ]
    warnings = doc.get("warnings") or []
    if warnings:
        parts.append("Warnings:\n" + "\n".join(f"  - {w}" for w in warnings))
    failures = doc.get("failures") or []
    if failures:
        parts.append("Failures:\n" + "\n".join(f"  - {f}" for f in failures))
    return "\n\n".join(p for p in parts if p)
