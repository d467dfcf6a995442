"""Fault rules, knob precedence and statistics."""

from __future__ import annotations

from simulator.knobs import Knobs
from simulator.state import FaultRules, SimulatorConfig, SimulatorState


def test_rule_with_times_expires() -> None:
    rules = FaultRules()
    rule = rules.install("m", Knobs(error_status=500), times=2)
    assert rule.to_dict() == {"id": 1, "model": "m", "knobs": {"error_status": 500}, "times": 2}
    assert rules.take("other") == Knobs()
    assert rules.take("m") == Knobs(error_status=500)
    assert rules.take("m") == Knobs(error_status=500)
    assert rules.take("m") == Knobs()
    assert rules.snapshot() == []


def test_rules_without_times_last_until_cleared() -> None:
    rules = FaultRules()
    rules.install("m", Knobs(latency_ms=1), times=None)
    for _ in range(5):
        assert rules.take("m") == Knobs(latency_ms=1)
    rules.clear()
    assert rules.take("m") == Knobs()


def test_wildcard_rules_are_overridden_by_model_rules() -> None:
    rules = FaultRules()
    rules.install("m", Knobs(error_status=429), times=None)
    rules.install("*", Knobs(error_status=500, latency_ms=3), times=1)
    assert rules.take("m") == Knobs(error_status=429, latency_ms=3)
    assert rules.take("x") == Knobs()


def test_effective_knobs_precedence() -> None:
    state = SimulatorState(SimulatorConfig(default_knobs=Knobs(latency_ms=1, reply="default")))
    state.rules.install("sim-error-500", Knobs(error_status=503), times=None)
    knobs = state.effective_knobs("sim-error-500", Knobs(reply="header"))
    assert knobs == Knobs(latency_ms=1, reply="header", error_status=503)
    assert state.effective_knobs("sim-error-500", Knobs(error_status=429)).error_status == 429
    assert state.effective_knobs("sim-slow-7", Knobs()).latency_ms == 7


def test_stats_and_reset() -> None:
    state = SimulatorState(SimulatorConfig())
    state.record_request("a", streamed=True)
    state.record_request("a", streamed=False).errors_injected += 1
    state.record_request("b", streamed=False)
    state.rules.install("*", Knobs(hang=True), times=None)
    assert state.stats_dict() == {
        "total": 3,
        "models": {
            "a": {"total": 2, "streamed": 1, "errors_injected": 1, "broken_streams": 0, "hangs": 0},
            "b": {"total": 1, "streamed": 0, "errors_injected": 0, "broken_streams": 0, "hangs": 0},
        },
    }
    assert set(state.seen_models) == {"a", "b"}
    state.reset()
    assert state.stats_dict() == {"total": 0, "models": {}}
    assert state.rules.snapshot() == []
