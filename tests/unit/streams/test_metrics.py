"""Counters in Prometheus' text exposition format."""

from __future__ import annotations

from schemas.events import Attempt, Caller, RequestRecord, Usage
from streams.metrics import Metrics, record_answer


def test_counters_render_with_help_type_and_labels() -> None:
    metrics = Metrics()
    metrics.inc("turnout_redis_unavailable_total", part="limits")
    metrics.inc("turnout_redis_unavailable_total", part="limits")
    metrics.inc("turnout_redis_unavailable_total", part="budgets")
    metrics.inc("turnout_budget_alerts_total", budget='team "a"\\b')
    assert metrics.value("turnout_redis_unavailable_total", part="limits") == 2
    assert metrics.render().splitlines() == [
        "# HELP turnout_budget_alerts_total Budget thresholds reached, by budget.",
        "# TYPE turnout_budget_alerts_total counter",
        'turnout_budget_alerts_total{budget="team \\"a\\"\\\\b"} 1',
        "# HELP turnout_redis_unavailable_total Admission checks that found Redis unreachable, by part.",
        "# TYPE turnout_redis_unavailable_total counter",
        'turnout_redis_unavailable_total{part="budgets"} 1',
        'turnout_redis_unavailable_total{part="limits"} 2',
    ]


def test_no_counters_render_as_an_empty_page() -> None:
    assert Metrics().render() == "\n"


def test_histograms_are_cumulative_with_sum_and_count() -> None:
    metrics = Metrics()
    for value in (0.004, 0.02, 0.02, 7.0, 99.0):
        metrics.observe("turnout_request_duration_seconds", value, buckets=(0.01, 0.05, 10.0), route="smart-chat")
    lines = metrics.render().splitlines()
    assert "# TYPE turnout_request_duration_seconds histogram" in lines
    route = 'route="smart-chat"'
    assert [line for line in lines if line.startswith("turnout_request_duration_seconds_")] == [
        f'turnout_request_duration_seconds_bucket{{{route},le="0.01"}} 1',
        f'turnout_request_duration_seconds_bucket{{{route},le="0.05"}} 3',
        f'turnout_request_duration_seconds_bucket{{{route},le="10"}} 4',
        f'turnout_request_duration_seconds_bucket{{{route},le="+Inf"}} 5',
        f"turnout_request_duration_seconds_sum{{{route}}} 106.044",
        f"turnout_request_duration_seconds_count{{{route}}} 5",
    ]


def test_gauges_are_read_when_scraped_and_a_broken_one_is_left_out() -> None:
    metrics = Metrics()
    state = {"a": 0.0}
    metrics.gauge_from("turnout_breaker_state", lambda: [({"deployment": "a"}, state["a"])])

    def broken() -> list[tuple[dict[str, str], float]]:
        raise RuntimeError("consumer not started")

    metrics.gauge_from("turnout_consumer_lag", broken)
    state["a"] = 2.0
    text = metrics.render()
    assert 'turnout_breaker_state{deployment="a"} 2' in text.splitlines()
    assert "turnout_consumer_lag" not in text


def test_an_answer_is_counted_by_route_deployment_and_status() -> None:
    metrics = Metrics()
    caller = Caller("acme", "t", "u", "paid", "k")
    record = RequestRecord(
        "r",
        caller,
        "http",
        0,
        0,
        "smart-chat",
        200,
        Usage(10, 5),
        250_000,
        deployment="d",
        cost_usd=0.5,
        upstream_us=200_000,
        attempts=[Attempt("d", "p", True, 0, 200_000)],
    )
    record_answer(metrics, record)
    record_answer(metrics, record)
    assert metrics.value("turnout_requests_total", route="smart-chat", deployment="d", status="200") == 2
    assert metrics.value("turnout_tokens_total", route="smart-chat", deployment="d", kind="completion") == 10
    assert metrics.value("turnout_cost_usd_total", route="smart-chat", deployment="d") == 1.0
    assert 'turnout_upstream_duration_seconds_count{deployment="d"} 2' in metrics.render()
