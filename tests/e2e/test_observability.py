"""Observability through the whole stack: the rollups behind the dashboards against figures computed
here from what was sent, feedback (own tenant only), and a caller's trace carried through Kafka
headers into the row and the spans."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from confluent_kafka import Consumer

from schemas.config import TurnoutConfig
from streams.tracing import request_span_id
from tests.conftest import free_port
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

RUN = uuid.uuid4().hex[:6]
DEMO_KEY = "sk-turnout-demo"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
N_SMART, N_FALLBACK = 12, 6


@pytest.fixture(scope="module")
def gateway(make_config: Any, simulator_url: str) -> Iterator[tuple[Stack, TurnoutConfig]]:
    deployments = {
        "o-primary": {"provider": "simulator", "model": f"obs-primary-{RUN}"},
        "o-backup": {
            "provider": "simulator",
            "model": "gpt-4o-mini",
            "input_usd_per_mtok": 0.15,
            "output_usd_per_mtok": 0.6,
        },
    }
    models = {"obs-chat": {"deployments": ["o-primary", "o-backup"], "retry": {"max_tries": 1}}}
    httpx.post(
        f"{simulator_url}/_sim/faults",
        json={"model": f"obs-primary-{RUN}", "knobs": {"error_status": 503}, "times": None},
    ).raise_for_status()
    topology = {"web_port": free_port(span=2)}  # the workers' /metrics: this port and the next
    with running_stack(make_config, workers=2, deployments=deployments, models=models, topology=topology) as run:
        yield run


@pytest.fixture(scope="module")
def traffic(gateway: tuple[Stack, TurnoutConfig]) -> dict[str, Any]:
    """What this module sends, and what it saw come back."""
    stack, config = gateway
    sdk = openai.OpenAI(base_url=stack.base_url, api_key=DEMO_KEY, max_retries=0, timeout=30)
    seen: dict[str, Any] = {"ids": [], "cost": 0.0, "client_ms": [], "fallback_ids": []}
    price = config.deployments["sim-gpt-4o"]
    for i in range(N_SMART):
        started = time.perf_counter()
        raw = sdk.chat.completions.with_raw_response.create(
            model="smart-chat",
            messages=[{"role": "user", "content": f"observability question {i} {RUN}"}],
            extra_headers={"x-turnout-feature": "obs-feature", "traceparent": f"00-{TRACE}-{PARENT}-01"}
            if i == 0
            else {"x-turnout-feature": "obs-feature"},
        )
        seen["client_ms"].append((time.perf_counter() - started) * 1000)
        usage = raw.parse().usage
        assert usage is not None
        seen["cost"] += (
            usage.prompt_tokens * price.input_usd_per_mtok + usage.completion_tokens * price.output_usd_per_mtok
        ) / 1e6
        seen["ids"].append(raw.headers["x-request-id"])
        if i == 0:
            seen["traced"] = (raw.headers["x-request-id"], raw.headers["traceparent"])
    for i in range(N_FALLBACK):
        raw = sdk.chat.completions.with_raw_response.create(
            model="obs-chat", messages=[{"role": "user", "content": f"fallback question {i}"}]
        )
        assert raw.parse().choices[0].message.content == f"Simulated reply from gpt-4o-mini: fallback question {i}"
        seen["fallback_ids"].append(raw.headers["x-request-id"])
    db = config.clickhouse.database
    total = N_SMART + N_FALLBACK
    wait_until(lambda: run_sql(config, f"SELECT count() FROM {db}.requests FINAL").rows[0][0] >= total, 30, "rows")
    return seen


def _one(config: TurnoutConfig, sql: str) -> list[Any]:
    rows = run_sql(config, sql.format(db=config.clickhouse.database)).rows
    assert len(rows) == 1, rows
    return list(rows[0])


def test_spend_per_feature_and_month_is_what_the_replies_cost(
    gateway: tuple[Stack, TurnoutConfig], traffic: dict[str, Any]
) -> None:
    _, config = gateway
    calls, cost = _one(config, "SELECT sum(calls), sum(cost_usd) FROM {db}.spend_monthly WHERE feature = 'obs-feature'")
    assert calls == N_SMART
    assert cost == pytest.approx(traffic["cost"], rel=1e-9)
    daily = _one(config, "SELECT sum(cost_usd) FROM {db}.spend_daily WHERE feature = 'obs-feature'")
    assert daily[0] == pytest.approx(traffic["cost"], rel=1e-9)


def test_latency_errors_and_fallbacks_per_route(gateway: tuple[Stack, TurnoutConfig], traffic: dict[str, Any]) -> None:
    _, config = gateway
    requests, p50, p95, p99, gateway_p50 = _one(
        config,
        "SELECT sum(requests), max(p50_ms), max(p95_ms), max(p99_ms), max(gateway_p50_ms) FROM {db}.latency_daily "
        "WHERE logical_model = 'smart-chat'",
    )
    assert requests == N_SMART
    assert 0 < gateway_p50 <= p50 <= p95 <= p99 <= max(traffic["client_ms"])  # the gateway's part of what we waited
    assert p50 <= statistics.median(traffic["client_ms"])
    requests, errors, fallbacks, fallback_rate = _one(
        config,
        "SELECT sum(requests), sum(errors), sum(fallbacks), max(fallback_rate) FROM {db}.requests_daily "
        "WHERE logical_model = 'obs-chat'",
    )
    assert (requests, errors, fallbacks, fallback_rate) == (N_FALLBACK, 0, N_FALLBACK, 1.0)
    health = {
        row[0]: row[1:]
        for row in run_sql(
            config,
            f"SELECT deployment, sum(attempts), sum(errors) FROM {config.clickhouse.database}.deployment_health_daily "
            "WHERE deployment IN ('o-primary', 'o-backup') GROUP BY deployment",
        ).rows
    }
    assert health["o-backup"] == [N_FALLBACK, 0]
    assert health["o-primary"][0] == health["o-primary"][1] >= N_FALLBACK  # every primary attempt failed


def test_feedback_is_recorded_for_the_callers_own_requests_only(
    gateway: tuple[Stack, TurnoutConfig], traffic: dict[str, Any]
) -> None:
    stack, config = gateway

    def rate(key: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{stack.base_url}/feedback", headers={"authorization": f"Bearer {key}"}, json=body, timeout=30
        )

    scores = [1.0, 0.0, 0.5]
    for request_id, score in zip(traffic["ids"], scores, strict=False):
        response = rate(DEMO_KEY, {"request_id": request_id, "score": score, "comment": "ok", "id": f"fb-{request_id}"})
        assert response.status_code == 200, response.text
        assert response.json()["request_id"] == request_id
    again = rate(DEMO_KEY, {"request_id": traffic["ids"][0], "score": 1.0, "id": f"fb-{traffic['ids'][0]}"})
    assert again.status_code == 200  # a retried POST with the same id stays one rating
    stranger = rate("sk-turnout-team-b", {"request_id": traffic["ids"][0], "score": 0.0})
    assert stranger.status_code == 404 and stranger.json()["error"]["param"] == "request_id"
    unknown = rate(DEMO_KEY, {"request_id": "no-such-request", "score": 0.0})
    assert unknown.status_code == 404
    bad = rate(DEMO_KEY, {"request_id": traffic["ids"][0], "score": 5})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "score"
    assert rate("sk-wrong", {"request_id": traffic["ids"][0], "score": 1}).status_code == 401
    db = config.clickhouse.database
    wait_until(lambda: run_sql(config, f"SELECT count() FROM {db}.feedback FINAL").rows[0][0] == 3, 30, "feedback rows")
    ratings, avg, positive = _one(
        config, "SELECT sum(ratings), avg(avg_score), max(positive_share) FROM {db}.feedback_by_route"
    )
    assert (ratings, avg, positive) == (3, pytest.approx(0.5), pytest.approx(2 / 3))
    assert _one(config, "SELECT countDistinct(tenant) FROM {db}.feedback") == [1]


def test_a_callers_trace_reaches_the_row_the_spans_and_the_kafka_headers(
    gateway: tuple[Stack, TurnoutConfig], traffic: dict[str, Any]
) -> None:
    _, config = gateway
    request_id, header = traffic["traced"]
    assert header == f"00-{TRACE}-{request_span_id(request_id)}-01"
    db = config.clickhouse.database
    assert _one(
        config, f"SELECT trace_id, parent_span_id FROM {{db}}.requests FINAL WHERE request_id = '{request_id}'"
    ) == [
        TRACE,
        PARENT,
    ]
    spans = run_sql(
        config,
        f"SELECT name, span_id, parent_span_id, status FROM {db}.spans FINAL WHERE trace_id = '{TRACE}' ORDER BY start",
    ).rows
    names = [s[0] for s in spans]
    assert names[0] == "turnout.request" and spans[0][1:] == [request_span_id(request_id), PARENT, "ok"]
    assert {"stage input_guard", "stage cache", "stage route", "stage invoke", "provider simulator"} <= set(names)
    assert all(s[2] == request_span_id(request_id) for s in spans[1:])
    # every request has its own trace: the others started new ones
    assert _one(config, "SELECT uniqExact(trace_id) FROM {db}.requests FINAL WHERE feature = 'obs-feature'") == [
        N_SMART
    ]
    # the traceparent goes along on the Kafka messages about the request (here: its record)
    consumer = Consumer(
        {"bootstrap.servers": config.kafka.bootstrap, "group.id": f"obs-{RUN}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([f"{config.kafka.topic_prefix}.events.requests"])
    found: list[Any] = []

    def read() -> bool:
        msg = consumer.poll(0.2)
        if msg is not None and not msg.error() and msg.key() == request_id.encode():
            found.append(dict(msg.headers() or []))
        return bool(found)

    try:
        wait_until(read, 30, "the record's message")
    finally:
        consumer.close()
    assert found[0]["traceparent"] == header.encode()


def _samples(text: str) -> dict[str, float]:
    """Prometheus text exposition: ``name{labels}`` -> value."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def test_prometheus_metrics_on_the_ingress_and_each_worker(
    gateway: tuple[Stack, TurnoutConfig], traffic: dict[str, Any]
) -> None:
    stack, _ = gateway
    ingress = _samples(httpx.get(stack.base_url.removesuffix("/v1") + "/metrics", timeout=10).text)
    ok = 'path="/v1/chat/completions",route="smart-chat",status="200"'
    assert ingress[f"turnout_http_requests_total{{{ok}}}"] == N_SMART
    route = 'path="/v1/chat/completions",route="smart-chat"'
    assert ingress[f"turnout_http_request_duration_seconds_count{{{route}}}"] >= N_SMART
    assert ingress[f'turnout_http_request_duration_seconds_bucket{{{route},le="+Inf"}}'] >= N_SMART
    assert ingress["turnout_http_in_flight"] >= 0
    workers = [_samples(httpx.get(stack.worker_metrics_url(i), timeout=10).text) for i in range(2)]

    def total(name: str) -> float:
        return sum(w.get(name, 0.0) for w in workers)

    assert total('turnout_requests_total{deployment="sim-gpt-4o",route="smart-chat",status="200"}') == N_SMART
    assert total('turnout_requests_total{deployment="o-backup",route="obs-chat",status="200"}') == N_FALLBACK
    assert total('turnout_cost_usd_total{deployment="sim-gpt-4o",route="smart-chat"}') == pytest.approx(traffic["cost"])
    assert total('turnout_tokens_total{deployment="sim-gpt-4o",kind="prompt",route="smart-chat"}') > 0
    assert total('turnout_request_duration_seconds_count{route="smart-chat"}') == N_SMART
    # every primary attempt failed: its breaker is open in both workers' view
    assert [w['turnout_breaker_state{deployment="o-primary"}'] for w in workers] == [2, 2]
    assert all(any(k.startswith("turnout_consumer_lag{") for k in w) for w in workers)
