"""A process's metrics, served in Prometheus' text exposition format.

Counters (:meth:`Metrics.inc`), histograms (:meth:`Metrics.observe`) and gauges read when scraped
(:meth:`Metrics.gauge_from`: breaker states, consumer lag). A worker creates one ``Metrics`` and passes
it to what counts (the limiter, the budget book, the pipeline); with ``topology.web_port`` set it serves
them at ``GET /metrics`` on loopback. The ingress has its own, at ``GET /metrics`` on its port.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable

__all__ = ["LATENCY_BUCKETS_S", "Metrics", "record_answer"]

log = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_HELP = {
    "turnout_redis_unavailable_total": "Admission checks that found Redis unreachable, by part.",
    "turnout_admission_refused_total": "Requests refused at admission, by reason (kill_switch, rate_limit, budget).",
    "turnout_budget_downgrades_total": "Requests served by the cheaper model past a budget's downgrade mark.",
    "turnout_budget_alerts_total": "Budget thresholds reached, by budget.",
    "turnout_cache_hits_total": "Requests answered from the cache, by kind (exact, semantic).",
    "turnout_cache_errors_total": "Cache lookups that failed and counted as misses, by part (redis, vectors).",
    "turnout_requests_total": "Requests answered by this worker, by route (logical model), deployment and status.",
    "turnout_request_duration_seconds": "From the ingress receiving a request to its answer, by route.",
    "turnout_upstream_duration_seconds": "Time in provider calls per answered request, by deployment.",
    "turnout_tokens_total": "Tokens of answered requests, by route, deployment and kind (prompt, completion).",
    "turnout_cost_usd_total": "What answered requests cost, by route and deployment.",
    "turnout_breaker_state": "Each deployment's breaker as this worker knows it: 0 closed, 1 half open, 2 open.",
    "turnout_consumer_lag": "Messages not yet read on this worker's partitions, by stage topic.",
    "turnout_http_requests_total": "HTTP requests, by path, route (logical model) and status.",
    "turnout_http_request_duration_seconds": "Until the response starts (a stream: its first event), by path, route.",
    "turnout_http_in_flight": "HTTP requests being answered now.",
}

Labels = tuple[tuple[str, str], ...]
Gauge = Callable[[], Iterable[tuple[dict[str, str], float]]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}" if pairs else ""


class Metrics:
    def __init__(self) -> None:
        self._values: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], list[float]] = {}  # per bucket and +Inf, then sum and count
        self._buckets: dict[str, tuple[float, ...]] = {}
        self._gauges: dict[str, Gauge] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, name: str, **labels: str) -> float:
        return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def observe(self, name: str, value: float, buckets: tuple[float, ...] = LATENCY_BUCKETS_S, **labels: str) -> None:
        """Add ``value`` to the histogram ``name`` (cumulative buckets, as Prometheus counts them)."""
        self._buckets.setdefault(name, buckets)
        key = (name, tuple(sorted(labels.items())))
        counts = self._histograms.get(key)
        if counts is None:
            counts = self._histograms[key] = [0.0] * (len(buckets) + 3)  # each bucket, +Inf, sum, count
        counts[bisect.bisect_left(self._buckets[name], value)] += 1
        counts[-2] += value
        counts[-1] += 1

    def gauge_from(self, name: str, read: Gauge) -> None:
        """``read()`` gives (labels, value) pairs when the metrics are scraped."""
        self._gauges[name] = read

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted({n for n, _ in self._values}):
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} counter"]
            lines += [f"{name}{_labels(lab)} {v:g}" for (n, lab), v in sorted(self._values.items()) if n == name]
        for name in sorted({n for n, _ in self._histograms}):
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} histogram"]
            bounds = self._buckets[name]
            for (n, lab), counts in sorted(self._histograms.items()):
                if n != name:
                    continue
                running = 0.0
                for bound, count in zip((*bounds, float("inf")), counts[:-2], strict=True):
                    running += count
                    le = "+Inf" if bound == float("inf") else f"{bound:g}"
                    lines.append(f"{name}_bucket{_labels(lab, (('le', le),))} {running:g}")
                lines.append(f"{name}_sum{_labels(lab)} {counts[-2]:g}")
                lines.append(f"{name}_count{_labels(lab)} {counts[-1]:g}")
        for name, read in sorted(self._gauges.items()):
            try:
                samples = list(read())
            except Exception:  # a gauge that cannot be read now is left out, not the whole page
                log.debug("gauge %s could not be read", name, exc_info=True)
                continue
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(tuple(sorted(lab.items())))} {v:g}" for lab, v in samples]
        return "\n".join(lines) + "\n"


def record_answer(metrics: Metrics, record: object) -> None:
    """Count an answered request (a ``RequestRecord``): status, latency, tokens, cost, cache."""
    from schemas.events import RequestRecord

    assert isinstance(record, RequestRecord)
    route, deployment = record.logical_model, record.deployment or "-"
    metrics.inc("turnout_requests_total", route=route, deployment=deployment, status=str(record.status))
    metrics.observe("turnout_request_duration_seconds", record.total_us / 1e6, route=route)
    if record.attempts:
        metrics.observe("turnout_upstream_duration_seconds", record.upstream_us / 1e6, deployment=deployment)
    usage = record.usage
    if usage.prompt_tokens or usage.completion_tokens:
        metrics.inc("turnout_tokens_total", usage.prompt_tokens, route=route, deployment=deployment, kind="prompt")
        metrics.inc(
            "turnout_tokens_total", usage.completion_tokens, route=route, deployment=deployment, kind="completion"
        )
    if record.cost_usd:
        metrics.inc("turnout_cost_usd_total", record.cost_usd, route=route, deployment=deployment)
