"""From load-generator output to the result document: summaries, figures, ratios, issue targets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bench.cells import CellRun, merge_loop_runs
from bench.report import format_table, render
from bench.results import (
    CpuAttribution,
    complete_document,
    figures_of,
    issue_targets,
    loop_summary,
    ratios,
    sequential_summary,
    streaming_summary,
)

SYSTEMS = ["direct", "turnout-split", "turnout-fused", "litellm-w1", "litellm-w2"]


def sequential_result(
    latency: dict[str, list[float | None]], ttft: dict[str, list[float | None]] | None = None
) -> dict[str, Any]:
    ttft = ttft or {name: [None] * len(v) for name, v in latency.items()}
    return {
        "rounds": len(next(iter(latency.values()))),
        "targets": {
            name: {
                "latency_ms": values,
                "ttft_ms": ttft[name],
                "errors": sum(v is None for v in values),
                "error_kinds": {"http_504": sum(v is None for v in values)} if None in values else {},
            }
            for name, values in latency.items()
        },
    }


def loop_result(ok: int, errors: int = 0, latency: float = 70.0, window_s: float = 2.0) -> dict[str, Any]:
    return {
        "concurrency": 200,
        "window_s": window_s,
        "client_cpu_s": 0.1,
        "throughput_rps": round(ok / window_s, 2),
        "ok": ok,
        "errors": errors,
        "error_kinds": {"timeout": errors} if errors else {},
        "latency_ms": [latency] * ok,
        "ttft_ms": [],
    }


def test_added_latency_is_per_round_against_direct() -> None:
    result = sequential_result({"direct": [60.0, 70.0, 61.0], "turnout-fused": [65.0, 72.0, None]})
    summary = sequential_summary(result, "direct")
    assert "added_ms" not in summary["direct"]
    assert summary["turnout-fused"]["added_ms"]["n"] == 2
    assert summary["turnout-fused"]["added_ms"]["p50"] == 3.5  # (5 + 2) / 2: drift between rounds cancels
    assert summary["turnout-fused"]["errors"] == 1
    assert summary["turnout-fused"]["latency_ms"]["n"] == 2


def test_streaming_summary_adds_ttft_and_total() -> None:
    result = sequential_result(
        {"direct": [62.0, 63.0], "litellm-w1": [80.0, 90.0]},
        {"direct": [61.0, 61.0], "litellm-w1": [70.0, 72.0]},
    )
    summary = streaming_summary(result, "direct")
    assert summary["litellm-w1"]["added_ttft_ms"]["p50"] == 10.0
    assert summary["litellm-w1"]["added_total_ms"]["p50"] == 22.5
    assert summary["direct"]["ttft_ms"]["p50"] == 61.0


def test_loop_summary_attributes_cpu_to_the_measured_system() -> None:
    cpu = {
        "turnout-fused/gateway": 0.5,
        "turnout-fused/worker-0": 1.0,
        "turnout-fused/worker-1": 0.5,
        "kafka": 0.4,
        "redis": 0.1,
        "simulator": 0.2,
        "litellm-w1/proxy": 0.05,
    }
    groups = ("turnout-fused/gateway", "turnout-fused/worker-0", "turnout-fused/worker-1")
    services = {"kafka_s": "kafka", "redis_s": "redis", "simulator_s": "simulator"}
    entry = loop_summary(loop_result(ok=400), cpu, 0.97, CpuAttribution(groups, services))
    assert entry["throughput_rps"] == 200.0
    assert entry["cpu"]["gateway_s"] == 2.0
    assert entry["cpu"]["per_request_ms"] == 5.0
    assert entry["cpu"]["per_request_with_services_ms"] == 6.75
    assert entry["cpu"]["other_systems_s"] == 0.05
    assert entry["cpu"]["kafka_s"] == 0.4
    assert entry["cpu"]["machine_busy"] == 0.97
    assert entry["latency_ms"]["p50"] == 70.0


def test_direct_cells_have_no_gateway_cpu_per_request() -> None:
    entry = loop_summary(
        loop_result(ok=100), {"simulator": 0.3}, None, CpuAttribution((), {"simulator_s": "simulator"})
    )
    assert entry["cpu"]["per_request_ms"] is None
    assert entry["cpu"]["simulator_s"] == 0.3


def test_open_loop_summary_reports_send_lag_and_missed_sends() -> None:
    result = {
        **loop_result(ok=98, errors=1),
        "rate": 50.0,
        "scheduled": 100,
        "sent": 99,
        "late_sends": 3,
        "missed_sends": 1,
        "send_lag_ms": [-0.2, 0.5, 30.0],
        "service_ms": [60.0] * 98,
    }
    entry = loop_summary(result, {}, 0.5, CpuAttribution((), {}))
    assert (entry["scheduled"], entry["sent"], entry["late_sends"], entry["missed_sends"]) == (100, 99, 3, 1)
    assert entry["send_lag_ms"]["min"] == 0.0  # a timer firing early is no lag
    assert entry["service_ms"]["p50"] == 60.0


def test_merging_the_parts_of_a_loop_cell() -> None:
    a = CellRun(loop_result(ok=100, latency=60.0), {"x/gateway": 1.0}, 0.8)
    b = CellRun(loop_result(ok=300, errors=2, latency=80.0), {"x/gateway": 2.0, "kafka": 0.5}, 1.0)
    merged = merge_loop_runs([a, b])
    assert merged.result["ok"] == 400
    assert merged.result["errors"] == 2
    assert merged.result["window_s"] == 4.0
    assert merged.result["throughput_rps"] == 100.0
    assert len(merged.result["latency_ms"]) == 400
    assert merged.result["parts"] == 2
    assert merged.cpu_s == {"x/gateway": 3.0, "kafka": 0.5}
    assert merged.machine_busy == pytest.approx(0.9)


def document() -> dict[str, Any]:
    """A document as the harness has it before ``complete_document``: two delays, every system."""
    doc: dict[str, Any] = {"sequential": {}, "streaming": {}, "closed_loop": {}, "open_loop": {}}
    for delay in (0, 60):
        latency: dict[str, list[float | None]] = {
            "direct": [delay + 1.0] * 4,
            "turnout-split": [delay + 9.0] * 4,
            "turnout-fused": [delay + 4.0] * 4,
            "litellm-w1": [delay + 13.0] * 4,
            "litellm-w2": [delay + 11.0] * 4,
        }
        doc["sequential"][f"{delay}ms"] = sequential_summary(sequential_result(latency), "direct")
        ttft: dict[str, list[float | None]] = {name: [(v[0] or 0.0) - 0.5] * 4 for name, v in latency.items()}
        doc["streaming"][f"{delay}ms"] = streaming_summary(sequential_result(latency, ttft), "direct")
    throughput = {"direct": 2000, "turnout-split": 500, "turnout-fused": 700, "litellm-w1": 100, "litellm-w2": 200}
    doc["closed_loop"]["60ms"] = {
        "c200": {
            name: loop_summary(
                loop_result(ok=ok * 2), {f"{name}/gateway": 1.0}, 1.0, CpuAttribution((f"{name}/gateway",), {})
            )
            for name, ok in throughput.items()
        }
    }
    doc["resources"] = {
        "turnout-fused/gateway": {
            "pids": [1],
            "cpu_s": 3.0,
            "peak_rss_mb": 60.0,
            "peak_rss_sum_mb": 59.0,
            "rss_mb": 50,
        },
        "turnout-fused/worker-0": {
            "pids": [2],
            "cpu_s": 5.0,
            "peak_rss_mb": 320.0,
            "peak_rss_sum_mb": 300.0,
            "rss_mb": 9,
        },
        "turnout-fused/sink": {"pids": [3], "cpu_s": 1.0, "peak_rss_mb": 360.0, "peak_rss_sum_mb": 360.0, "rss_mb": 9},
        "litellm-w2/proxy": {
            "pids": [4, 5, 6],
            "cpu_s": 9.0,
            "peak_rss_mb": 340.0,
            "peak_rss_sum_mb": 900.0,
            "rss_mb": 9,
        },
        "kafka": {"pids": [7], "cpu_s": 20.0, "peak_rss_mb": 700.0, "peak_rss_sum_mb": 700.0, "rss_mb": 9},
    }
    doc["idle"] = {"seconds": 3.0, "cores": {"turnout-fused/worker-0": 0.07, "turnout-fused/gateway": 0.01}}
    return doc


def test_figures_are_flat_keys_per_system() -> None:
    doc = document()
    complete_document(doc, SYSTEMS, (0, 60))
    fused = doc["figures"]["turnout-fused"]
    assert fused["sequential.0ms.added_p50_ms"] == 3.0
    assert fused["streaming.60ms.added_ttft_p50_ms"] == 3.0
    assert fused["closed.60ms.c200.throughput_rps"] == 700.0
    assert fused["closed.60ms.c200.cpu_ms_per_request"] == pytest.approx(1000 / 1400, abs=1e-4)
    assert fused["memory.peak_rss_mb"] == 360.0
    assert fused["memory.peak_rss_sum_mb"] == 740.0
    assert fused["memory.worker_peak_rss_mb"] == 320.0
    assert fused["memory.gateway_peak_rss_mb"] == 60.0
    assert fused["idle.cpu_cores"] == 0.08
    assert "sequential.0ms.added_p50_ms" not in doc["figures"]["direct"]
    assert doc["figures"]["litellm-w2"]["memory.peak_rss_sum_mb"] == 900.0


def test_ratios_to_each_litellm_setting_the_best_one_and_direct() -> None:
    doc = document()
    complete_document(doc, SYSTEMS, (0, 60))
    added = doc["ratios"]["turnout-fused"]["sequential.0ms.added_p50_ms"]
    assert added["value"] == 3.0
    assert added["vs_litellm"] == {"litellm-w1": 0.25, "litellm-w2": 0.3}
    assert added["vs_best_litellm"] == 0.3  # lower is better: the best LiteLLM added 10 ms
    assert added["vs_direct"] is None  # direct adds nothing
    rps = doc["ratios"]["turnout-split"]["closed.60ms.c200.throughput_rps"]
    assert rps["vs_best_litellm"] == 2.5  # higher is better: the best LiteLLM did 200 rps
    assert rps["vs_direct"] == 0.25
    latency = doc["ratios"]["turnout-fused"]["sequential.60ms.latency_p50_ms"]
    assert latency["vs_direct"] == pytest.approx(64 / 61, abs=1e-3)
    assert "sequential.0ms.errors" not in doc["ratios"]["turnout-fused"]  # counts get no ratio


def test_ratios_skip_missing_litellm() -> None:
    figures = {"turnout-fused": {"sequential.0ms.added_p50_ms": 3.0}, "direct": {}}
    r = ratios(figures, ["turnout-fused"], [])
    assert r["turnout-fused"]["sequential.0ms.added_p50_ms"]["vs_best_litellm"] is None


def test_issue_targets_met_missed_and_unmeasured() -> None:
    doc = document()
    complete_document(doc, SYSTEMS, (0, 60))
    rows = {(t["figure"], t["system"]): t for t in doc["targets"]}
    p50 = rows[("sequential.0ms.added_p50_ms", "turnout-fused")]
    assert (p50["value"], p50["threshold"], p50["met"]) == (3.0, 5.0, True)  # half of LiteLLM's best 10 ms
    assert rows[("sequential.0ms.added_p50_ms", "turnout-split")]["met"] is True  # 8 ms < 10 ms
    assert rows[("streaming.0ms.added_ttft_p50_ms", "turnout-fused")]["met"] is True
    throughput = rows[("closed.60ms.c200.throughput_rps", "turnout-fused")]
    assert (throughput["threshold"], throughput["met"]) == (600.0, True)
    # the target names no layout: it is judged once, for the layout with the higher throughput
    assert ("closed.60ms.c200.throughput_rps", "turnout-split") not in rows  # 500 against fused's 900
    assert rows[("memory.peak_rss_mb", "turnout-fused/worker-0")]["met"] is False  # 320 MB
    assert rows[("memory.peak_rss_mb", "turnout-fused/gateway")]["met"] is True
    assert ("memory.peak_rss_mb", "turnout-fused/sink") not in rows  # the targets name ingress and workers


def test_errors_miss_the_throughput_target() -> None:
    figures = {
        "turnout-fused": {"closed.60ms.c200.throughput_rps": 900.0, "closed.60ms.c200.errors": 1},
        "litellm-w1": {"closed.60ms.c200.throughput_rps": 100.0},
    }
    rows = issue_targets(figures, ["litellm-w1"], [], {})
    assert next(r for r in rows if r["system"] == "turnout-fused")["met"] is False


def test_the_throughput_target_is_judged_for_the_faster_layout() -> None:
    figures = {
        "turnout-fused": {"closed.60ms.c200.throughput_rps": 500.0, "closed.60ms.c200.errors": 0},
        "turnout-split": {"closed.60ms.c200.throughput_rps": 700.0, "closed.60ms.c200.errors": 0},
        "litellm-w1": {"closed.60ms.c200.throughput_rps": 200.0},
    }
    rows = [r for r in issue_targets(figures, ["litellm-w1"], [], {}) if r["figure"].startswith("closed.")]
    assert [(r["system"], r["value"], r["threshold"], r["met"]) for r in rows] == [
        ("turnout-split", 700.0, 600.0, True)
    ]


def test_targets_without_litellm_are_not_judged() -> None:
    rows = issue_targets({"turnout-fused": {"sequential.0ms.added_p50_ms": 3.0}}, [], ["0ms"], {})
    half = next(r for r in rows if r["figure"] == "sequential.0ms.added_p50_ms" and r["system"] == "turnout-fused")
    assert half["met"] is None


def test_the_document_serializes_and_renders() -> None:
    doc = document()
    complete_document(doc, SYSTEMS, (0, 60))
    doc.update(mode="quick", note="a smoke run", systems={name: {} for name in SYSTEMS}, failures=[])
    assert orjson.loads(orjson.dumps(doc)) == orjson.loads(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    text = render(doc)
    for heading in ("Sequential, non-streaming", "Streaming", "Closed loop", "Turnout against LiteLLM", "Targets"):
        assert heading in text
    assert "x litellm-w2" in text


def test_format_table_aligns_columns() -> None:
    text = format_table(["name", "value"], [["a", 1.25], ["longer", None]], "T")
    lines = text.splitlines()
    assert lines[0] == "T"
    assert len({len(line) for line in lines[1:]}) == 1
    assert lines[-1].rstrip().endswith("-")


def test_a_window_in_which_nothing_completed_measures_no_throughput() -> None:
    result = {**loop_result(ok=0), "in_flight_at_end": 200, "cut_after_window": 200}
    entry = loop_summary(result, {}, 1.0, CpuAttribution(("litellm-w1/proxy",), {}))
    assert entry["throughput_rps"] is None
    assert entry["in_flight_at_end"] == 200
    doc = {"closed_loop": {"60ms": {"c200": {"litellm-w1": entry}}}}
    figures = figures_of(doc)
    figures["turnout-fused"] = {"closed.60ms.c200.throughput_rps": 150.0, "closed.60ms.c200.errors": 0}
    row = next(r for r in issue_targets(figures, ["litellm-w1"], [], {}) if r["system"] == "turnout-fused")
    assert row["met"] is None  # not judged against a throughput that was not measured
