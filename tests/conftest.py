"""Fixtures shared by the integration and e2e tests.

Kafka and Redis are started by ``scripts/services.sh up`` (``make test`` does it). A test that
needs them and cannot reach them fails: it is never skipped. Every test gets its own topic prefix,
consumer group, ClickHouse path and ports, so tests do not see each other's events.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from schemas.config import TurnoutConfig, load_config
from turnout.stack import SIMULATOR_ENV, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
KAFKA = os.environ.get("TURNOUT_TEST_KAFKA", "127.0.0.1:19092")
REDIS = os.environ.get("TURNOUT_TEST_REDIS", "redis://127.0.0.1:16379/0")


def _reachable(host_port: str) -> bool:
    host, port = host_port.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not _reachable(KAFKA):
        pytest.fail(f"Kafka is not reachable at {KAFKA}: run scripts/services.sh up (make test does)")
    return KAFKA


@pytest.fixture(scope="session")
def simulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A provider simulator process on a free port, for the whole session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("simulator") / "simulator.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "turnout.cli", "simulate", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200, 30, "simulator")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


# provider kinds other than openai, and what their provider entries need
FORMATS: dict[str, dict[str, Any]] = {
    "anthropic": {"api_key_env": "TURNOUT_TEST_PROVIDER_KEY"},
    "gemini": {"api_key_env": "TURNOUT_TEST_PROVIDER_KEY"},
    "bedrock": {
        "region": "us-east-1",
        "aws_access_key_id_env": "TURNOUT_TEST_AWS_KEY_ID",
        "aws_secret_access_key_env": "TURNOUT_TEST_AWS_SECRET",
    },
}
# the fake credentials the simulator accepts; processes started by the tests inherit them
os.environ.setdefault("TURNOUT_TEST_PROVIDER_KEY", "sim-provider-key")
for _name, _value in SIMULATOR_ENV.items():
    os.environ.setdefault(_name, _value)
os.environ.setdefault("TURNOUT_TEST_AWS_KEY_ID", "AKIDTURNOUTTEST")
os.environ.setdefault("TURNOUT_TEST_AWS_SECRET", "turnout-test-secret")

ConfigFactory = Callable[..., tuple[Path, TurnoutConfig]]


@pytest.fixture(scope="session")
def make_config(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, simulator_url: str) -> ConfigFactory:
    """Writes a test config (the example, with this test's topics, ports and paths) and loads it."""

    def factory(
        limits_list: list[dict[str, Any]] | None = None,
        budgets_list: list[dict[str, Any]] | None = None,
        **sections: dict[str, Any],
    ) -> tuple[Path, TurnoutConfig]:
        tmp_path = tmp_path_factory.mktemp("turnout")
        data = yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text())
        prefix = f"t{uuid.uuid4().hex[:10]}"
        data["gateway"].update(port=free_port(), request_timeout_s=20)
        data["kafka"].update(
            bootstrap=kafka_bootstrap, topic_prefix=prefix, consumer_group=f"{prefix}-stages", session_timeout_ms=6000
        )
        data["redis"]["url"] = REDIS
        data["clickhouse"]["dsn"] = f"chdb://{tmp_path / 'clickhouse'}"
        data["sink"].update(query_port=free_port(), batch_ms=50)
        for provider in data["providers"].values():  # every example provider is the simulator
            provider["base_url"] = provider["base_url"].replace("http://127.0.0.1:18080", simulator_url)
        data["deployments"]["sim-slow"] = {
            "provider": "simulator",
            "model": "sim-slow-50",
            "input_usd_per_mtok": 1.0,
            "output_usd_per_mtok": 2.0,
        }
        data["deployments"]["sim-hang"] = {"provider": "simulator", "model": "sim-hang"}
        for kind, extra in FORMATS.items():  # the simulator speaks every provider's wire format
            data["providers"][f"sim-{kind}"] = {"kind": kind, "base_url": simulator_url, **extra}
            data["deployments"][f"sim-{kind}-chat"] = {
                "provider": f"sim-{kind}",
                "model": f"{kind}-model",
                "input_usd_per_mtok": 1.0,
                "output_usd_per_mtok": 4.0,
            }
            data["models"][f"{kind}-chat"] = {"deployments": [f"sim-{kind}-chat"]}
        for kind, model in (("gemini", "gemini-embedding-001"), ("bedrock", "amazon.titan-embed-text-v2:0")):
            data["deployments"][f"sim-{kind}-embed"] = {
                "provider": f"sim-{kind}",
                "model": model,
                "input_usd_per_mtok": 0.1,
            }
            data["models"][f"{kind}-embed"] = {"deployments": [f"sim-{kind}-embed"]}
        data["deployments"]["sim-broken"] = {"provider": "simulator", "model": "sim-broken-stream"}
        data["models"]["broken-chat"] = {"deployments": ["sim-broken"]}
        data["models"]["slow-chat"] = {"deployments": ["sim-slow"]}
        data["models"]["hang-chat"] = {"deployments": ["sim-hang"]}
        for section, values in sections.items():
            data.setdefault(section, {}).update(values)
        if limits_list is not None:
            data["limits"] = limits_list
        if budgets_list is not None:
            data["budgets"] = budgets_list
        path = tmp_path / "turnout.yaml"
        path.write_text(yaml.safe_dump(data))
        return path, load_config(path)

    return factory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that restart the shared Kafka broker run last: a broker that has just come back (log
    recovery, the group coordinator reloading) is slower for a while, and the timing of the tests
    after it (breakers opening within a batch) should not depend on that."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_kafka") is not None)
