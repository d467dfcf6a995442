"""The fault scenario's pure parts: its config, samples split into thirds, the summary, the table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from bench.fault import (
    BACKUP,
    BREAKERS,
    PRIMARY,
    RETRY,
    Routing,
    Sample,
    Transition,
    add_fault_model,
    backup_upstream,
    breaker_sql,
    fault_model,
    fault_rule,
    fault_summary,
    fault_target,
    parse_routing,
    parse_transitions,
    primary_upstream,
    routing_sql,
    scenario,
    split_thirds,
    third_summary,
)
from bench.report import render
from bench.results import figures_of, ratios
from bench.systems import turnout_config_data
from schemas.config import parse_config
from simulator.knobs import knobs_from_model_name

ROOT = Path(__file__).resolve().parents[3]


def sample(offset: float, latency: float | None = 70.0, rid: str | None = None, error: str | None = None) -> Sample:
    return Sample(offset, latency, error if latency is None else None, rid)


# ------------------------------------------------------------------------------------- config


def test_primary_and_backup_are_the_same_delay_under_two_names() -> None:
    assert primary_upstream(60) != backup_upstream(60)
    assert knobs_from_model_name(primary_upstream(60)).latency_ms == 60.0
    assert knobs_from_model_name(backup_upstream(60)).latency_ms == 60.0
    assert knobs_from_model_name(primary_upstream(0)).latency_ms == 0.0


def test_the_fault_rule_fails_only_the_primary_until_cleared() -> None:
    assert fault_rule(60) == {"model": "sim-slow-60.0", "knobs": {"error_status": 503}, "times": None}


def test_the_stack_config_gets_the_fault_model_and_short_breakers() -> None:
    base = yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text())
    data = turnout_config_data(
        base,
        layout="fused",
        prefix="benchabc123fused",
        gateway_port=41001,
        sink_port=41002,
        chdb_path=Path("/tmp/bench/clickhouse"),
        simulator_url="http://127.0.0.1:41003",
        delays_ms=(0, 60),
        fault_delay_ms=60,
    )
    config = parse_config(data)
    model = config.models[fault_model(60)]
    assert model.deployments == (PRIMARY, BACKUP)
    assert (model.retry.max_tries, model.retry.base_delay_ms, model.retry.max_delay_ms) == (2, 20, 50)
    assert config.deployments[PRIMARY].model == "sim-slow-60.0"
    assert config.deployments[BACKUP].model == "sim-slow-60.00"
    assert config.deployments[PRIMARY].provider == config.deployments[BACKUP].provider == "simulator"
    assert (config.breakers.failure_threshold, config.breakers.open_s) == (3, 2.0)
    assert config.models["bench-60ms"].retry == parse_config(base).models["best-cheap-chat"].retry  # others untouched
    assert "breakers" not in base and fault_model(60) not in base["models"]


def test_without_the_scenario_the_config_has_neither_model_nor_breakers() -> None:
    base = yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text())
    data = turnout_config_data(
        base,
        layout="split",
        prefix="p",
        gateway_port=1,
        sink_port=2,
        chdb_path=Path("/tmp/x"),
        simulator_url="http://127.0.0.1:3",
        delays_ms=(60,),
    )
    assert fault_model(60) not in data["models"]
    assert data.get("breakers") == base.get("breakers")


def test_add_fault_model_keeps_other_breaker_settings() -> None:
    data: dict[str, Any] = {"breakers": {"latency_p95_ms": 900, "failure_threshold": 9}}
    add_fault_model(data, 5)
    assert data["breakers"] == {"latency_p95_ms": 900, **BREAKERS}
    assert data["models"]["bench-fault-5ms"] == {"deployments": [PRIMARY, BACKUP], "retry": RETRY}


def test_the_target_names_the_fault_model() -> None:
    target_id, entry = fault_target("turnout-fused", "http://127.0.0.1:2/v1/", "sk", 60)
    assert target_id == "turnout-fused@60ms/fault"
    assert json.loads(entry["body"])["model"] == "bench-fault-60ms"
    assert entry["url"] == "http://127.0.0.1:2/v1/chat/completions"
    assert entry["headers"] == {"Authorization": "Bearer sk"} and entry["stream"] is False


def test_scenario_description() -> None:
    sc = scenario(60, 50.0, 4.0)
    assert sc["model"] == "bench-fault-60ms"
    assert sc["primary"] == {"deployment": PRIMARY, "upstream": "sim-slow-60.0"}
    assert sc["phases"] == ["before", "fault", "after"]
    assert sc["breakers"] == BREAKERS


# ------------------------------------------------------------------------------------- thirds


def test_samples_from_the_load_generators_rows() -> None:
    assert Sample.from_row([0.02, 61.5, None, "r1"]) == Sample(0.02, 61.5, None, "r1")
    failed = Sample.from_row([1, None, "http_503", "r2"])
    assert (failed.ok, failed.offset_s, failed.error) == (False, 1.0, "http_503")


def test_split_into_thirds_by_scheduled_time() -> None:
    rate, duration = 50.0, 12.0
    samples = [sample(i / rate) for i in range(int(rate * duration))]
    first, second, third = split_thirds(samples, duration)
    assert len(first) == len(second) == len(third) == 200
    assert first[-1].offset_s < 4.0 <= second[0].offset_s  # a send on the boundary is in the later third
    assert second[-1].offset_s < 8.0 <= third[0].offset_s


def test_split_edges() -> None:
    first, second, third = split_thirds([sample(-0.1), sample(3.0), sample(3.5), sample(0.999)], 3.0)
    assert [s.offset_s for s in first] == [-0.1, 0.999]  # before the window: first; at or past its end: last
    assert second == []
    assert [s.offset_s for s in third] == [3.0, 3.5]
    assert split_thirds([], 3.0) == ([], [], [])
    with pytest.raises(ValueError, match="positive"):
        split_thirds([], 0.0)


# ------------------------------------------------------------------------------------- summary

ROUTING = {
    # before: answered by the primary
    "a": Routing(PRIMARY, ((PRIMARY, ""),)),
    # fault, breaker still closed: two failed calls, then the backup
    "b": Routing(BACKUP, ((PRIMARY, "ServerError"), (PRIMARY, "ServerError"), (BACKUP, ""))),
    # fault, breaker open: the primary is skipped
    "c": Routing(BACKUP, ((PRIMARY, "CircuitOpen"), (BACKUP, ""))),
    "d": Routing(BACKUP, ((PRIMARY, "CircuitOpen"), (BACKUP, ""))),
    # failed everywhere
    "e": Routing(BACKUP, ((PRIMARY, "CircuitOpen"), (BACKUP, "ServerError"))),
}


def test_third_summary_counts_success_latency_and_where_requests_went() -> None:
    samples = [
        sample(4.0, 200.0, "b"),
        sample(4.1, 70.0, "c"),
        sample(4.2, 60.0, "d"),
        sample(4.3, None, "e", "http_503"),
        sample(4.4, 65.0, None),  # no request id: not looked up
        sample(4.5, None, None, "cut"),
    ]
    s = third_summary(samples, ROUTING)
    assert (s["requests"], s["ok"], s["errors"]) == (6, 4, 2)
    assert s["error_kinds"] == {"http_503": 1, "cut": 1}
    assert s["success_rate"] == pytest.approx(4 / 6, abs=1e-4)
    assert s["latency_ms"]["n"] == 4
    assert s["latency_ms"]["p50"] == 67.5
    assert s["logged"] == 4
    assert s["by_deployment"] == {BACKUP: 3}
    assert (s["to_backup"], s["fallback_share"]) == (3, 1.0)  # of the 3 good requests found in ClickHouse
    assert (s["primary_calls"], s["primary_failed"], s["primary_skipped"]) == (2, 2, 3)


def test_third_summary_of_a_healthy_and_of_an_empty_third() -> None:
    healthy = third_summary([sample(0.1, 61.0, "a"), sample(0.2, 63.0, "unknown")], ROUTING)
    assert (healthy["success_rate"], healthy["fallback_share"], healthy["to_backup"]) == (1.0, 0.0, 0)
    assert (healthy["primary_calls"], healthy["primary_failed"], healthy["primary_skipped"]) == (1, 0, 0)
    assert healthy["logged"] == 1
    empty = third_summary([], ROUTING)
    assert (empty["requests"], empty["success_rate"], empty["fallback_share"]) == (0, None, None)
    assert empty["latency_ms"]["p50"] is None


def test_fault_summary_per_third_and_the_breakers_moves() -> None:
    samples = [sample(1.0, 61.0, "a"), sample(4.0, 200.0, "b"), sample(5.0, 70.0, "c"), sample(9.0, 62.0, "a")]
    moves = [
        Transition(4.2, "open", "closed", "3 consecutive failures"),
        Transition(6.3, "open", "half_open", "probe failed"),
        Transition(9.1, "closed", "half_open", "probe succeeded"),
    ]
    summary = fault_summary(samples, ROUTING, third_s=4.0, fault_on_s=4.01, fault_off_s=8.02, transitions=moves)
    assert [t["phase"] for t in summary["thirds"]] == ["before", "fault", "after"]
    assert [(t["from_s"], t["to_s"]) for t in summary["thirds"]] == [(0.0, 4.0), (4.0, 8.0), (8.0, 12.0)]
    assert [t["requests"] for t in summary["thirds"]] == [1, 2, 1]
    assert summary["thirds"][1]["fallback_share"] == 1.0
    assert summary["thirds"][0]["fallback_share"] == 0.0
    assert summary["breaker_opened_after_s"] == pytest.approx(0.19)
    assert summary["breaker_closed_after_s"] == pytest.approx(1.08)
    assert summary["breaker"][0] == {"at_s": 4.2, "state": "open", "previous": "closed", "reason": moves[0].reason}
    assert (summary["samples"], summary["logged"]) == (4, 4)


def test_fault_summary_without_a_fault_or_breaker() -> None:
    summary = fault_summary([sample(1.0)], {}, third_s=1.0, fault_on_s=None, fault_off_s=None)
    assert summary["breaker_opened_after_s"] is None and summary["breaker_closed_after_s"] is None
    assert summary["breaker"] == []


# ------------------------------------------------------------------------------------- ClickHouse


def test_queries_and_their_rows() -> None:
    sql = routing_sql("turnout", "bench-fault-60ms")
    assert "FROM turnout.requests FINAL" in sql and "logical_model = 'bench-fault-60ms'" in sql
    assert "'it\\'s'" in routing_sql("db", "it's")
    rows = [["r1", BACKUP, [PRIMARY, BACKUP], ["CircuitOpen", ""]]]
    assert parse_routing(rows) == {"r1": Routing(BACKUP, ((PRIMARY, "CircuitOpen"), (BACKUP, "")))}
    assert "breaker_events FINAL" in breaker_sql("turnout", PRIMARY)
    moves = parse_transitions([["open", "closed", "3 failures", 1_000_004_500_000]], 1_000_000.0)
    assert moves == [Transition(pytest.approx(4.5), "open", "closed", "3 failures")]  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- document


def fault_document() -> dict[str, Any]:
    samples = [sample(1.0, 61.0, "a"), sample(5.0, 70.0, "c"), sample(5.5, None, "e", "http_503")]
    moves = [Transition(4.2, "open", "closed", "x"), Transition(9.1, "closed", "half_open", "y")]
    entry = fault_summary(samples, ROUTING, third_s=4.0, fault_on_s=4.0, fault_off_s=8.0, transitions=moves)
    return {"fault": {"scenario": scenario(60, 50.0, 4.0), "systems": {"turnout-fused": entry}}}


def test_fault_figures_are_flat_and_get_no_ratios() -> None:
    figures = figures_of(fault_document())
    fused = figures["turnout-fused"]
    assert fused["fault.before.success_rate"] == 1.0
    assert fused["fault.fault.success_rate"] == 0.5
    assert fused["fault.fault.latency_p50_ms"] == 70.0
    assert fused["fault.fault.fallback_share"] == 1.0
    assert fused["fault.after.success_rate"] is None
    assert fused["fault.breaker_opened_after_s"] == pytest.approx(0.2)
    assert ratios(figures, ["turnout-fused"], ["litellm-w1"]) == {}


def test_the_fault_table_is_printed() -> None:
    doc = fault_document()
    assert orjson.loads(orjson.dumps(doc)) == doc
    text = render(doc)
    assert "Fault scenario: bench-fault-60ms" in text
    lines = text.splitlines()
    fault_row = next(line for line in lines if "2 fault" in line)
    assert "50.0%" in fault_row and "1 (100.0%)" in fault_row
    assert "open@4.20 closed@9.10" in text
    assert render({}).count("Fault scenario") == 0
