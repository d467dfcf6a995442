"""The package's public surface and CLI."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

import simulator
from simulator import server
from simulator.state import SimulatorConfig, SimulatorState


def test_all_names_are_exported() -> None:
    assert sorted(simulator.__all__) == [
        "KnobError",
        "Knobs",
        "RunningSimulator",
        "SimulatorConfig",
        "build_app",
        "knobs_from_headers",
        "knobs_from_model_name",
        "main",
        "serve",
        "start_in_thread",
    ]
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None


def test_build_app_has_its_own_state() -> None:
    first, second = simulator.build_app(), simulator.build_app(SimulatorConfig(models=("x",)))
    assert isinstance(first, Starlette)
    assert isinstance(first.state.sim, SimulatorState)
    assert first.state.sim is not second.state.sim
    assert second.state.sim.config.models == ("x",)
    paths = {getattr(route, "path", None) for route in first.routes}
    assert {"/v1/chat/completions", "/v1/models", "/healthz", "/_sim/stats"} <= paths


def test_main_parses_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(server, "serve", lambda *args: calls.append(args))
    assert server.main(["--port", "19999", "--host", "0.0.0.0", "--model", "a", "--model", "b"]) == 0
    [(host, port, config, log_level)] = calls
    assert (host, port, log_level) == ("0.0.0.0", 19999, "warning")
    assert isinstance(config, SimulatorConfig) and config.models == ("a", "b")


def test_main_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(server, "serve", lambda *args: calls.append(args))
    assert server.main([]) == 0
    assert calls == [("127.0.0.1", 18080, None, "warning")]
