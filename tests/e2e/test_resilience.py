"""Retries, fallback chains and circuit breakers against the simulator's fault knobs.

Each test gets its own upstream model names, so the simulator's fault rules touch nothing else.
Latencies are reported (printed with -s), never asserted: the benchmark measures speed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from schemas.config import TurnoutConfig
from schemas.events import Caller, ChatMessage, ChatRequest, ReplyEvent
from streams.topics import TopicNames
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.client import TurnoutClient
from turnout.stack import Stack, wait_until

CALLER = Caller(tenant="acme", team="platform", user="resilience", tier="paid", key_id="demo")
RUN = uuid.uuid4().hex[:8]
PRIMARY, SECOND, SLOW = f"res-primary-{RUN}", f"res-second-{RUN}", f"res-slow-{RUN}"


def _sections(simulator_url: str) -> dict[str, Any]:
    sim = "simulator"
    return {
        "providers": {"dead": {"base_url": "http://127.0.0.1:9/v1", "connect_timeout_s": 1, "timeout_s": 5}},
        "deployments": {
            "r-primary": {"provider": sim, "model": PRIMARY, "input_usd_per_mtok": 2, "output_usd_per_mtok": 8},
            "r-second": {"provider": sim, "model": SECOND, "input_usd_per_mtok": 2, "output_usd_per_mtok": 8},
            "r-slow": {"provider": sim, "model": SLOW},
            "r-dead": {"provider": "dead", "model": "gpt-4o"},
            "r-backup": {
                "provider": sim,
                "model": "gpt-4o-mini",
                "input_usd_per_mtok": 0.1,
                "output_usd_per_mtok": 0.4,
            },
        },
        "models": {
            "dead-chat": {"deployments": ["r-dead", "r-backup"]},
            "flaky-chat": {
                "deployments": ["r-primary", "r-backup"],
                "retry": {"max_tries": 2, "base_delay_ms": 20, "max_delay_ms": 50},
            },
            "down-chat": {
                "deployments": ["r-primary", "r-second"],
                "retry": {"max_tries": 2, "base_delay_ms": 20, "max_delay_ms": 50},
            },
            "slow-primary-chat": {"deployments": ["r-slow", "r-backup"]},
        },
        # the latency bound is far from both the slow primary (1.2 s) and a busy machine's fast deployment:
        # the backup under 20 concurrent requests must never look slow
        "breakers": {"failure_threshold": 3, "open_s": 3, "latency_p95_ms": 600, "window_s": 30, "min_samples": 5},
        "gateway": {"request_timeout_s": 8},
    }


@pytest.fixture(scope="module")
def gateway(make_config: Any, simulator_url: str) -> Iterator[tuple[Stack, TurnoutConfig]]:
    with running_stack(make_config, workers=2, topology={"layout": "fused"}, **_sections(simulator_url)) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults_left(simulator_url: str) -> Iterator[None]:
    """A test that fails half-way must not leave its faults for the next one."""
    yield
    httpx.delete(f"{simulator_url}/_sim/faults")


def fault(simulator_url: str, model: str, times: int | None, **knobs: Any) -> None:
    resp = httpx.post(f"{simulator_url}/_sim/faults", json={"model": model, "knobs": knobs, "times": times})
    assert resp.status_code == 201, resp.text


async def send(
    config: TurnoutConfig, model: str, n: int, concurrency: int = 20, timeout_s: float = 8
) -> list[tuple[ReplyEvent, float]]:
    async with TurnoutClient(
        config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix), max_in_flight=concurrency
    ) as client:

        async def one(i: int) -> tuple[ReplyEvent, float]:
            started = time.monotonic()
            request = ChatRequest(model=model, messages=[ChatMessage(role="user", content=f"request {i}")])
            reply = await client.complete(request, CALLER, timeout_s=timeout_s)
            return reply, (time.monotonic() - started) * 1000

        return await asyncio.gather(*(one(i) for i in range(n)))


async def send_each(config: TurnoutConfig, model: str, n: int) -> list[tuple[ReplyEvent, float, float]]:
    """``n`` requests one after the other through one client: (reply, ms taken, monotonic time it was sent)."""
    async with TurnoutClient(config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix)) as client:
        results = []
        for i in range(n):
            started = time.monotonic()
            request = ChatRequest(model=model, messages=[ChatMessage(role="user", content=f"request {i}")])
            reply = await client.complete(request, CALLER, timeout_s=8)
            results.append((reply, (time.monotonic() - started) * 1000, started))
        return results


def attempts_of(config: TurnoutConfig, request_id: str) -> list[tuple[str, str]]:
    sql = (
        f"SELECT attempts.deployment, attempts.error_class FROM {config.clickhouse.database}.requests FINAL "
        f"WHERE request_id = '{request_id}'"
    )
    wait_until(lambda: len(run_sql(config, sql).rows) == 1, 30, f"row {request_id}")
    deployments, errors = run_sql(config, sql).rows[0]
    return list(zip(deployments, errors, strict=True))


def test_primary_hard_down_everything_succeeds_through_the_fallback(gateway: tuple[Stack, TurnoutConfig]) -> None:
    _, config = gateway
    # 500 requests wait their turn in the client (20 at a time): the deadline covers the queue, and a
    # busy machine must not turn the wait into timeouts
    results = asyncio.run(send(config, "dead-chat", 500, timeout_s=60))
    assert [r.error for r, _ in results if r.error is not None] == []
    assert {r.deployment for r, _ in results} == {"r-backup"}
    first, last = results[0][0], results[-1][0]
    assert attempts_of(config, first.request_id)[0][0] == "r-dead"
    # once the breaker opened, the dead primary is skipped without a call (CircuitOpen, no timeout paid)
    assert attempts_of(config, last.request_id) == [("r-dead", "CircuitOpen"), ("r-backup", "")]
    db = config.clickhouse.database
    opened_sql = f"SELECT count() FROM {db}.breaker_events WHERE deployment = 'r-dead' AND state = 'open'"
    wait_until(lambda: run_sql(config, opened_sql).rows[0][0] >= 1, 30, "r-dead open transition recorded")
    # the attempts table is read once it holds every r-dead attempt the 500 requests' rows name
    ids = ", ".join(f"'{r.request_id}'" for r, _ in results)
    named_sql = (
        f"SELECT count(), sum(countEqual(attempts.deployment, 'r-dead')) FROM {db}.requests FINAL "
        f"WHERE request_id IN ({ids})"
    )
    attempts_sql = (
        f"SELECT count(), countIf(error_class = 'ProviderConnectionError'), countIf(error_class = 'CircuitOpen') "
        f"FROM {db}.attempts FINAL WHERE deployment = 'r-dead' AND request_id IN ({ids})"
    )

    def all_landed() -> bool:
        named = run_sql(config, named_sql).rows[0]
        return named[0] >= len(results) and run_sql(config, attempts_sql).rows[0][0] == named[1]

    wait_until(all_landed, 30, "every r-dead attempt in the attempts table")
    calls = run_sql(config, attempts_sql).rows[0][1:]
    assert calls[1] > calls[0], f"most requests skipped the dead primary: {calls}"


def test_503s_open_the_breaker_and_it_closes_after_a_half_open_probe(
    gateway: tuple[Stack, TurnoutConfig], simulator_url: str
) -> None:
    _, config = gateway
    policy = config.breakers
    fault(simulator_url, PRIMARY, None, error_status=503)
    before = asyncio.run(send_each(config, "flaky-chat", 12))
    assert [r.error for r, _, _ in before if r.error is not None] == []
    assert {r.deployment for r, _, _ in before} == {"r-backup"}
    closed_ms = statistics.median(ms for _, ms, _ in before[:2])
    open_ms = statistics.median(ms for _, ms, _ in before[-6:])
    print(
        f"\nadded by a 503ing primary: breaker closed {closed_ms:.1f} ms p50 (two 503s and a backoff), "
        f"breaker open {open_ms:.1f} ms p50 (skipped)"
    )
    attempts = [attempts_of(config, r.request_id) for r, _, _ in before]
    assert all(a[-1] == ("r-backup", "") for a in attempts)
    called = [error for a in attempts for d, error in a[:-1] if d == "r-primary" and error != "CircuitOpen"]
    assert set(called) == {"ProviderOverloaded"}
    # once open, the primary is skipped without a call: the calls it still got are the failures that
    # opened it, those sent before every worker heard (one request), and one half-open probe per
    # open_s that the sequence lasted (each probe fails and opens it again)
    lasted_s = before[-1][2] - before[0][2]
    probes = int(lasted_s // policy.open_s) + 1
    retries = 2
    assert len(called) <= policy.failure_threshold + retries + probes, (called, lasted_s)
    assert any(a[0] == ("r-primary", "CircuitOpen") for a in attempts[-6:]), attempts
    httpx.delete(f"{simulator_url}/_sim/faults")  # the primary recovers
    # after open_s the half-open probe succeeds, the breaker closes and traffic comes back
    wait_until(
        lambda: asyncio.run(send(config, "flaky-chat", 1))[0][0].deployment == "r-primary",
        30,
        "primary back after the half-open probe",
        0.5,
    )
    db = config.clickhouse.database
    states_sql = (
        f"SELECT groupArray(state) FROM (SELECT state FROM {db}.breaker_events "
        f"WHERE deployment = 'r-primary' ORDER BY at)"
    )
    wait_until(lambda: "closed" in run_sql(config, states_sql).rows[0][0], 30, "closed transition recorded")
    assert run_sql(config, states_sql).rows[0][0][:1] == ["open"]


def test_slow_primary_opens_on_latency(gateway: tuple[Stack, TurnoutConfig], simulator_url: str) -> None:
    _, config = gateway
    fault(simulator_url, SLOW, 12, latency_ms=1200)
    results = asyncio.run(send(config, "slow-primary-chat", 30, concurrency=2))
    assert [r.error for r, _ in results if r.error is not None] == []
    assert results[-1][0].deployment == "r-backup"
    # the transition reaches ClickHouse through the sink, a moment after the request that tripped it
    reasons_sql = (
        f"SELECT reason FROM {config.clickhouse.database}.breaker_events WHERE deployment = 'r-slow' AND state = 'open'"
    )
    wait_until(lambda: run_sql(config, reasons_sql).rows, 30, "r-slow open transition recorded")
    reasons = [row[0] for row in run_sql(config, reasons_sql).rows]
    assert any("p95 latency" in reason for reason in reasons), reasons
    httpx.delete(f"{simulator_url}/_sim/faults")  # the primary is fast again
    # after open_s the half-open probe goes through, the breaker closes and traffic comes back
    wait_until(
        lambda: asyncio.run(send(config, "slow-primary-chat", 1))[0][0].deployment == "r-slow",
        30,
        "slow primary back after the half-open probe",
        0.5,
    )


def test_429_with_retry_after_is_retried_or_falls_back_past_the_deadline(
    gateway: tuple[Stack, TurnoutConfig], simulator_url: str
) -> None:
    _, config = gateway
    fault(simulator_url, PRIMARY, 1, error_status=429, retry_after_s=1)
    ((retried, _),) = asyncio.run(send(config, "flaky-chat", 1))
    assert retried.error is None and retried.deployment == "r-primary"
    assert attempts_of(config, retried.request_id) == [("r-primary", "ProviderRateLimited"), ("r-primary", "")]
    fault(simulator_url, PRIMARY, 1, error_status=429, retry_after_s=60)
    ((moved, _),) = asyncio.run(send(config, "flaky-chat", 1))
    assert moved.error is None and moved.deployment == "r-backup"
    assert attempts_of(config, moved.request_id) == [("r-primary", "ProviderRateLimited"), ("r-backup", "")]


def test_every_target_down_is_a_clear_503_with_the_attempt_history(
    gateway: tuple[Stack, TurnoutConfig], simulator_url: str
) -> None:
    stack, config = gateway
    fault(simulator_url, PRIMARY, 2, error_status=500)
    fault(simulator_url, SECOND, 2, error_status=503)
    resp = httpx.post(
        f"{stack.base_url}/chat/completions",
        timeout=30,
        headers={"authorization": "Bearer sk-turnout-demo"},
        json={"model": "down-chat", "messages": [{"role": "user", "content": "anyone?"}]},
    )
    assert resp.status_code == 503
    error = resp.json()["error"]
    assert error["type"] == "service_unavailable" and error["code"] == "all_deployments_failed"
    assert "r-primary: ProviderError" in error["message"] and "r-second: ProviderOverloaded" in error["message"]
    assert attempts_of(config, resp.headers["x-request-id"]) == [
        ("r-primary", "ProviderError"),
        ("r-primary", "ProviderError"),
        ("r-second", "ProviderOverloaded"),
        ("r-second", "ProviderOverloaded"),
    ]


def test_breaker_state_survives_a_worker_restart(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    asyncio.run(send(config, "dead-chat", 10, concurrency=2))  # the breaker on r-dead is open again
    for name in ("worker-0", "worker-1"):
        stack.kill(name)
    stack.start_worker(0)
    stack.start_worker(1)
    after = [asyncio.run(send(config, "dead-chat", 1, timeout_s=30))[0][0] for _ in range(6)]
    assert [r.error for r in after] == [None] * 6
    calls = [a for r in after for a in attempts_of(config, r.request_id) if a[0] == "r-dead"]
    # a breaker that forgot would let the first requests call the dead primary (two tries each) until
    # three failures opened it again; one that remembered skips it, with at most one half-open probe
    assert sum(error == "ProviderConnectionError" for _, error in calls) <= 1, calls
    assert sum(error == "CircuitOpen" for _, error in calls) >= 5, calls


@pytest.mark.parametrize(
    "knobs",
    [{"error_status": 503}, {"error_after_chunks": 0}, {"error_status": 429, "retry_after_s": 60}],
    ids=["503-before-the-stream", "error-event-as-the-stream-starts", "429-as-the-stream-starts"],
)
def test_a_stream_falls_back_when_the_primary_fails_before_the_first_chunk(
    gateway: tuple[Stack, TurnoutConfig], simulator_url: str, knobs: dict[str, Any]
) -> None:
    stack, config = gateway
    httpx.delete(f"{simulator_url}/_sim/faults")
    fault(simulator_url, PRIMARY, 2, **knobs)
    sdk = openai.OpenAI(base_url=stack.base_url, api_key="sk-turnout-demo", max_retries=0, timeout=30)
    raw = sdk.chat.completions.with_raw_response.create(
        model="flaky-chat", messages=[{"role": "user", "content": "stream after a fallback"}], stream=True
    )
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Simulated reply from gpt-4o-mini: stream after a fallback"
    attempts = attempts_of(config, raw.headers["x-request-id"])
    assert attempts[-1] == ("r-backup", "") and all(d == "r-primary" for d, _ in attempts[:-1])
