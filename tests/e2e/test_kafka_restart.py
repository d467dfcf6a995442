"""The Kafka broker stopped under load and started again: while it is down the gateway answers 503
(never hangs), and afterwards it serves again by itself; every request accepted (a 200) is in
ClickHouse once. Counts are printed."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from schemas.config import TurnoutConfig
from tests.conftest import KAFKA, _reachable, free_port
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("TURNOUT_RUN", ROOT / ".run"))


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    topology = {"web_port": free_port()}  # the worker's /readyz
    with running_stack(make_config, workers=1, gateway={"request_timeout_s": 10}, topology=topology) as run:
        yield run


def _readiness(url: str) -> tuple[int, list[str]]:
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        return 0, [type(exc).__name__]
    return response.status_code, response.json().get("problems", [])


def _ask(stack: Stack, i: int) -> tuple[int, str, float]:
    started = time.monotonic()
    try:
        response = httpx.post(
            f"{stack.base_url}/chat/completions",
            headers={"authorization": "Bearer sk-turnout-demo"},
            json={"model": "best-cheap-chat", "messages": [{"role": "user", "content": f"during the outage {i}"}]},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        return 0, type(exc).__name__, time.monotonic() - started
    return response.status_code, response.headers.get("x-request-id", ""), time.monotonic() - started


@pytest.mark.restarts_kafka
def test_the_gateway_answers_503_while_kafka_is_down_and_recovers(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    pidfile = RUN_DIR / "kafka.pid"
    assert pidfile.is_file(), f"this test stops the broker that scripts/services.sh started ({pidfile})"
    results: list[tuple[int, str, float]] = []
    stop = threading.Event()

    def load() -> None:
        i = 0
        while not stop.is_set():
            results.append(_ask(stack, i))
            i += 1
            time.sleep(0.05)  # pacing of the load (about 20 requests a second), not a wait for anything

    gateway_ready = stack.base_url.removesuffix("/v1") + "/readyz"
    worker_ready = f"http://127.0.0.1:{config.topology.web_port}/readyz"
    thread = threading.Thread(target=load)
    thread.start()
    try:
        wait_until(lambda: sum(s == 200 for s, _, _ in results) >= 20, 60, "traffic before the outage")
        assert _readiness(gateway_ready) == (200, [])
        assert _readiness(worker_ready) == (200, [])
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
        wait_until(lambda: not _reachable(KAFKA), 60, "the broker down")
        down_at = len(results)
        wait_until(lambda: len(results) >= down_at + 3, 90, "requests while the broker is down")
        # both readiness checks say why (the worker's about a session timeout into the outage); the
        # worker stays live, since a restart would not bring the broker back
        wait_until(lambda: _readiness(gateway_ready)[0] == 503, 30, "the gateway not ready")
        assert _readiness(gateway_ready)[1][0].startswith("Kafka is not answering"), _readiness(gateway_ready)
        not_answering = "the consumer group's coordinator (a Kafka broker) is not answering"
        wait_until(lambda: not_answering in _readiness(worker_ready)[1], 60, "the worker not ready")
        assert _readiness(worker_ready)[0] == 503
        assert httpx.get(worker_ready.replace("/readyz", "/healthz"), timeout=5).status_code == 200
        subprocess.run([str(ROOT / "scripts" / "services.sh"), "up"], check=True, capture_output=True, timeout=120)
        up_at = len(results)
        wait_until(lambda: any(s == 200 for s, _, _ in results[up_at:]), 120, "the gateway serving again")
        wait_until(lambda: sum(s == 200 for s, _, _ in results[up_at:]) >= 10, 60, "steady again")
        wait_until(lambda: _readiness(gateway_ready) == (200, []), 30, "the gateway ready again")
        wait_until(lambda: _readiness(worker_ready) == (200, []), 60, "the worker ready again")
    finally:
        stop.set()
        thread.join(60)
        if not _reachable(KAFKA):  # leave the broker up for the tests after this one
            subprocess.run([str(ROOT / "scripts" / "services.sh"), "up"], check=False, timeout=120)
    during = results[down_at:up_at]
    assert during and {s for s, _, _ in during} <= {503, 504}, during  # refused clearly, not hung
    assert max(t for _, _, t in results) < 30
    assert {s for s, _, _ in results} <= {200, 503, 504}
    accepted = [rid for s, rid, _ in results if s == 200]
    db = config.clickhouse.database
    ids = ",".join(f"'{r}'" for r in accepted)
    sql = f"SELECT count(), uniqExact(request_id) FROM {db}.requests FINAL WHERE request_id IN ({ids})"
    wait_until(lambda: run_sql(config, sql).rows[0][0] == len(accepted), 90, "the accepted requests' rows")
    assert run_sql(config, sql).rows[0] == [len(accepted), len(accepted)]
    statuses = [s for s, _, _ in results]
    print(
        f"kafka restart: {len(results)} requests, {statuses.count(200)} answered 200, "
        f"{statuses.count(503)} refused 503, {statuses.count(504)} 504, 0 accepted lost"
    )
