"""The configs the benchmark generates: LiteLLM's proxy (offline, no database) and Turnout's stacks."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench.litellm_env import (
    LITELLM_VERSION,
    MASTER_KEY,
    LiteLLMEnv,
    LiteLLMRoute,
    litellm_config,
    offline_env,
    write_config,
)
from bench.systems import QUIET_UVICORN_LOGGING, SESSION_TIMEOUT_MS, turnout_config_data
from schemas.config import parse_config

ROOT = Path(__file__).resolve().parents[3]
ROUTES = [LiteLLMRoute("bench-0ms", "sim-slow-0"), LiteLLMRoute("bench-60ms", "sim-slow-60")]


def test_every_route_is_an_openai_compatible_upstream_at_the_simulator() -> None:
    config = litellm_config(ROUTES, "http://127.0.0.1:18080/")
    assert config["model_list"] == [
        {
            "model_name": "bench-0ms",
            "litellm_params": {"model": "openai/sim-slow-0", "api_base": "http://127.0.0.1:18080/v1", "api_key": "x"},
        },
        {
            "model_name": "bench-60ms",
            "litellm_params": {"model": "openai/sim-slow-60", "api_base": "http://127.0.0.1:18080/v1", "api_key": "x"},
        },
    ]


def test_the_proxy_runs_without_telemetry_database_or_retries() -> None:
    config = litellm_config(ROUTES, "http://127.0.0.1:18080")
    assert config["litellm_settings"]["telemetry"] is False
    assert config["litellm_settings"]["num_retries"] == 0
    general = config["general_settings"]
    assert general["master_key"] == MASTER_KEY
    assert "database_url" not in general
    assert general["disable_spend_logs"] is True


def test_the_config_file_is_yaml_litellm_can_read(tmp_path: Path) -> None:
    path = write_config(tmp_path / "litellm" / "config.yaml", ROUTES, "http://127.0.0.1:18080")
    assert yaml.safe_load(path.read_text()) == litellm_config(ROUTES, "http://127.0.0.1:18080")


def test_offline_environment() -> None:
    env = offline_env(
        {"PATH": "/usr/bin", "DATABASE_URL": "postgres://x", "PYTHONPATH": "/work/main", "REDIS_URL": "redis://"}
    )
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["LITELLM_TELEMETRY"] == "False"
    assert env["PATH"] == "/usr/bin"
    for gone in ("DATABASE_URL", "PYTHONPATH", "REDIS_URL"):
        assert gone not in env


def test_the_venv_is_named_by_its_pinned_version(tmp_path: Path) -> None:
    env = LiteLLMEnv(tmp_path / "venv")
    assert env.marker.name == f".installed-litellm-{LITELLM_VERSION}"
    assert not env.installed()
    assert env.bin == (tmp_path / "venv" / "bin").resolve()


def test_uvicorn_access_log_is_off_as_in_turnouts_gateway() -> None:
    assert QUIET_UVICORN_LOGGING["loggers"]["uvicorn.access"]["level"] == "WARNING"


def turnout_data(layout: str = "fused") -> tuple[dict, dict]:
    base = yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text())
    data = turnout_config_data(
        base,
        layout=layout,
        prefix="benchabc123fused",
        gateway_port=41001,
        sink_port=41002,
        chdb_path=Path("/tmp/bench/clickhouse"),
        simulator_url="http://127.0.0.1:41003",
        delays_ms=(0, 60),
    )
    return base, data


def test_turnout_config_is_the_example_with_its_own_names_ports_and_paths() -> None:
    base, data = turnout_data()
    config = parse_config(data)
    assert config.topology.layout == "fused"
    assert config.kafka.topic_prefix == "benchabc123fused"
    assert config.kafka.consumer_group == "benchabc123fused-stages"
    assert config.kafka.session_timeout_ms == SESSION_TIMEOUT_MS
    assert (config.gateway.port, config.sink.query_port) == (41001, 41002)
    assert config.clickhouse.dsn == "chdb:///tmp/bench/clickhouse"
    assert config.providers["simulator"].base_url == "http://127.0.0.1:41003/v1"
    assert config.models["bench-60ms"].deployments == ("bench-sim-60ms",)
    assert config.deployments["bench-sim-60ms"].model == "sim-slow-60"
    assert config.deployments["bench-sim-0ms"].model == "sim-slow-0"
    assert config.keys == parse_config(base).keys
    assert config.topology.concurrency == parse_config(base).topology.concurrency


def test_the_example_config_is_not_changed() -> None:
    base, _ = turnout_data("split")
    assert base == yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text())
