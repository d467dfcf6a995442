"""Counters in Prometheus' text exposition format."""

from __future__ import annotations

from streams.metrics import Metrics


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
