"""Three dashboards from ClickHouse: finance, reliability and quality, as HTML pages with inline SVG.

    GET /dashboards/finance?range=24h&tenant=acme&model=smart-chat

``range`` is ``1h``, ``24h`` (the default), ``7d`` or ``30d``; ``tenant`` and ``model`` (the logical model
named, the route) narrow every chart. The sink serves them on its query port (loopback), beside
``/query``, to the readers of ``sink.readers`` (a tenant's reader sees its tenant only). Each chart is
one query over the tables and views of ``sinks/migrations``; the queries are here, with their pages, so
that what a chart shows can be read off one function.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.config import TurnoutConfig
from sinks.charts import bar_chart, line_chart
from streams.stages.budgets import period_of

__all__ = ["PAGES", "Dashboards", "Filters"]

Query = Callable[[str], Any]  # SQL -> an object with .columns and .rows

RANGES = {"1h": (3600, 60), "24h": (86_400, 900), "7d": (7 * 86_400, 7200), "30d": (30 * 86_400, 86_400)}
PAGES = ("finance", "reliability", "quality")
_VALUE = re.compile(r"^[A-Za-z0-9_.:@/-]{1,128}$")
_BUDGET_COLUMN = {"user": "user", "team": "team", "feature": "feature", "key": "key_id", "tenant": "tenant"}


@dataclass(frozen=True, slots=True)
class Filters:
    range: str = "24h"
    tenant: str = ""
    model: str = ""

    @classmethod
    def from_query(cls, params: dict[str, list[str]]) -> Filters:
        """Filters from a query string; an unknown range or a value with odd characters is ignored."""

        def one(name: str) -> str:
            values = params.get(name) or [""]
            return values[0] if _VALUE.match(values[0]) else ""

        wanted = one("range")
        return cls(range=wanted if wanted in RANGES else "24h", tenant=one("tenant"), model=one("model"))

    @property
    def seconds(self) -> int:
        return RANGES[self.range][0]

    @property
    def bucket_s(self) -> int:
        return RANGES[self.range][1]

    def where(self, time_column: str, model_column: str | None = "logical_model", tenant_column: str = "tenant") -> str:
        """The SQL condition for these filters (values were checked against ``_VALUE``: no quotes)."""
        parts = [f"{time_column} >= now64(6) - INTERVAL {self.seconds} SECOND"]
        if self.tenant:
            parts.append(f"{tenant_column} = '{self.tenant}'")
        if self.model and model_column:
            parts.append(f"{model_column} = '{self.model}'")
        return " AND ".join(parts)

    def query_string(self, **override: str) -> str:
        values = {"range": self.range, "tenant": self.tenant, "model": self.model, **override}
        return "&".join(f"{k}={html.escape(v)}" for k, v in values.items() if v)


class Dashboards:
    def __init__(self, config: TurnoutConfig, query: Query) -> None:
        self.config = config
        self._query = query
        self._db = config.clickhouse.database

    def rows(self, sql: str) -> list[list[Any]]:
        return [list(r) for r in self._query(sql.replace("{db}", self._db)).rows]

    def render(self, page: str, filters: Filters) -> str:
        """The page's HTML; ``page`` must be one of :data:`PAGES`."""
        sections = {"finance": self._finance, "reliability": self._reliability, "quality": self._quality}[page](filters)
        return _layout(page, filters, sections, self._choices(filters))

    # -- the pages --------------------------------------------------------------------------------------
    @staticmethod
    def _over_range(f: Filters, series: dict[str, list[tuple[datetime, float]]], title: str, unit: str = "") -> str:
        """A time series chart whose axis is the filters' whole range, up to now."""
        end = datetime.now(tz=UTC)
        start = datetime.fromtimestamp(end.timestamp() - f.seconds, tz=UTC)
        return line_chart(series, title=title, unit=unit, start=start, end=end)

    def _series(self, sql: str) -> dict[str, list[tuple[datetime, float]]]:
        """Rows (bucket, series name, value) as series."""
        out: dict[str, list[tuple[datetime, float]]] = {}
        for bucket, name, value in self.rows(sql):
            out.setdefault(str(name) or "(none)", []).append((_as_datetime(bucket), float(value or 0)))
        return out

    def _bars(self, sql: str) -> list[tuple[str, float]]:
        return [(str(label) or "(none)", float(value or 0)) for label, value in self.rows(sql)]

    def _finance(self, f: Filters) -> list[tuple[str, str]]:
        where = f.where("received_at")
        bucket = f"toStartOfInterval(received_at, INTERVAL {f.bucket_s} SECOND)"
        spend = self._series(
            f"SELECT {bucket} AS b, logical_model, sum(cost_usd) FROM {{db}}.requests FINAL WHERE {where} "
            "GROUP BY b, logical_model ORDER BY b"
        )
        sections = [("Spend over time, by model", self._over_range(f, spend, title="spend", unit="$"))]
        for column, title in (
            ("feature", "feature"),
            ("team", "team"),
            ("user", "user"),
            ("deployment", "model deployment"),
        ):
            bars = self._bars(
                f"SELECT {column}, sum(cost_usd) AS c FROM {{db}}.requests FINAL WHERE {where} "
                f"GROUP BY {column} HAVING c > 0 ORDER BY c DESC LIMIT 10"
            )
            sections.append((f"Spend by {title}", bar_chart(bars, title=f"spend by {title}", unit="$")))
        sections.append(("Budgets: spend in the current period", self._budgets(f)))
        saved_cache = self.rows(
            f"SELECT sum(cache_saved_usd), countIf(cache_status = 'hit') FROM {{db}}.requests FINAL WHERE {where}"
        )
        saved_routing = self._routing_savings(where)
        cache_usd, hits = saved_cache[0] if saved_cache else (0.0, 0)
        savings = [("cache (answers reused)", float(cache_usd or 0)), ("routing (cheaper model served)", saved_routing)]
        sections.append(
            (
                f"Money saved ({int(hits or 0)} cache hits)",
                bar_chart([s for s in savings if s[1] > 0], title="savings", unit="$"),
            )
        )
        return sections

    def _budgets(self, f: Filters) -> str:
        if not self.config.budgets:
            return "<p class='none'>No budgets configured.</p>"
        # shares of each budget: the bars are drawn against 1.0 (100 %)
        return bar_chart(self.budget_spend(f), title="budget spend", unit="%", limit=1.0)

    def budget_spend(self, f: Filters, now_s: float | None = None) -> list[tuple[str, float]]:
        """``(rule · scope value, share of the budget spent)`` in each rule's current period, the
        five largest per rule. A request counts in the period it finished in, as the budget ledger
        charges it when its usage arrives (a request received before the period began and answered
        in it counts in this period)."""
        now_s = time.time() if now_s is None else now_s
        items: list[tuple[str, float]] = []
        for rule in self.config.budgets:
            period = period_of(rule, now_s)
            start = datetime.fromtimestamp(period.start_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            conditions = [f"finished_at >= toDateTime64('{start}', 6, 'UTC')"]
            if rule.model:
                conditions.append(f"logical_model = '{rule.model}'")
            if rule.tier:
                conditions.append(f"tier = '{rule.tier}'")
            if f.tenant:
                conditions.append(f"tenant = '{f.tenant}'")
            column = _BUDGET_COLUMN.get(rule.scope, "'all'")
            for value, spent in self.rows(
                f"SELECT {column} AS v, sum(cost_usd) AS s FROM {{db}}.requests FINAL WHERE {' AND '.join(conditions)} "
                "GROUP BY v ORDER BY s DESC LIMIT 5"
            ):
                items.append((f"{rule.name} · {value}", float(spent) / rule.usd))
        return items

    def _routing_savings(self, where: str) -> float:
        """What the requests routed to another model would have cost on their own model's primary
        deployment, minus what they cost."""
        saved = 0.0
        for model, prompt, completion, cost in self.rows(
            "SELECT logical_model, sum(prompt_tokens), sum(completion_tokens), sum(cost_usd) "
            f"FROM {{db}}.requests FINAL WHERE {where} "
            "AND routed_model != '' AND routed_model != logical_model GROUP BY logical_model"
        ):
            configured = self.config.models.get(model)
            if configured is None:
                continue
            price = self.config.deployments[configured.deployments[0]]
            would = (prompt * price.input_usd_per_mtok + completion * price.output_usd_per_mtok) / 1e6
            saved += max(0.0, would - float(cost))
        return saved

    def _reliability(self, f: Filters) -> list[tuple[str, str]]:
        where = f.where("received_at")
        bucket = f"toStartOfInterval(received_at, INTERVAL {f.bucket_s} SECOND)"
        per_minute = 60 / f.bucket_s
        traffic = self._series(
            f"SELECT {bucket} AS b, 'requests / min', count() * {per_minute} "
            f"FROM {{db}}.requests FINAL WHERE {where} GROUP BY b "
            f"UNION ALL SELECT {bucket} AS b, 'errors / min', countIf(status >= 400) * {per_minute} "
            f"FROM {{db}}.requests FINAL WHERE {where} GROUP BY b ORDER BY b"
        )
        latency = self._series(
            " UNION ALL ".join(
                f"SELECT {bucket} AS b, '{name}', quantileExact({q})(total_us) / 1000 FROM {{db}}.requests FINAL "
                f"WHERE {where} GROUP BY b"
                for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
            )
        )
        fallback = self._series(
            f"SELECT {bucket} AS b, 'fallback rate', countIf(length(attempts) > 1 AND status < 400) / count() "
            f"FROM {{db}}.requests FINAL WHERE {where} GROUP BY b ORDER BY b"
        )
        errors = self._bars(
            f"SELECT deployment, countIf(NOT ok) / count() AS r FROM {{db}}.attempts FINAL "
            f"WHERE {f.where('started_at')} GROUP BY deployment ORDER BY r DESC LIMIT 10"
        )
        breakers = self.rows(
            "SELECT deployment, argMax(state, at), max(at) FROM {db}.breaker_events "
            "GROUP BY deployment ORDER BY deployment"
        )
        table = "".join(
            f"<tr><td>{html.escape(str(d))}</td><td class='state {html.escape(str(s))}'>{html.escape(str(s))}</td>"
            f"<td>{html.escape(str(at))[:19]}</td></tr>"
            for d, s, at in breakers
        )
        breaker_html = (
            f"<table class='breakers'><tr><th>deployment</th><th>state</th><th>since</th></tr>{table}</table>"
            if breakers
            else "<p class='none'>No breaker has changed state.</p>"
        )
        return [
            ("Requests and errors per minute", self._over_range(f, traffic, title="requests")),
            ("Latency percentiles (ms)", self._over_range(f, latency, title="latency", unit=" ms")),
            ("Fallback frequency", self._over_range(f, fallback, title="fallbacks", unit="%")),
            ("Error rate by deployment (attempts)", bar_chart(errors, title="errors", unit="%")),
            ("Circuit breakers (last state)", breaker_html),
        ]

    def _quality(self, f: Filters) -> list[tuple[str, str]]:
        bucket_fb = f"toStartOfInterval(f.at, INTERVAL {f.bucket_s} SECOND)"
        fb_where = f.where("f.at", "r.logical_model", "f.tenant")
        joined = (
            "{db}.feedback AS f FINAL INNER JOIN "
            "(SELECT request_id, tenant, logical_model FROM {db}.requests FINAL) AS r "
            "ON f.request_id = r.request_id AND f.tenant = r.tenant"
        )
        ratings = self._series(
            f"SELECT {bucket_fb} AS b, r.logical_model, avg(f.score) FROM {joined} WHERE {fb_where} "
            "GROUP BY b, r.logical_model ORDER BY b"
        )
        by_route = self._bars(
            f"SELECT r.logical_model, avg(f.score) AS s FROM {joined} WHERE {fb_where} "
            "GROUP BY r.logical_model ORDER BY s DESC"
        )
        where = f.where("received_at")
        bucket = f"toStartOfInterval(received_at, INTERVAL {f.bucket_s} SECOND)"
        blocks = self._series(
            f"SELECT {bucket} AS b, 'block rate', countIf(guard_action = 'block') / count() FROM {{db}}.requests FINAL "
            f"WHERE {where} GROUP BY b ORDER BY b"
        )
        by_guardrail = self._bars(
            f"SELECT concat(guardrail, ' ', action), count() AS n FROM {{db}}.guard_events FINAL "
            f"WHERE {f.where('at')} GROUP BY guardrail, action ORDER BY n DESC LIMIT 10"
        )
        faithfulness = self._bars(
            f"SELECT logical_model, avg(score) FROM {{db}}.guard_events FINAL WHERE {f.where('at')} "
            "AND guardrail = 'faithfulness' AND score IS NOT NULL GROUP BY logical_model"
        )
        similarity = self._bars(
            "SELECT concat(cache_status, ' ', toString(floor(cache_similarity, 2))) AS bin, count() "
            f"FROM {{db}}.requests FINAL WHERE {where} AND cache_similarity IS NOT NULL "
            "GROUP BY cache_status, floor(cache_similarity, 2) "
            "ORDER BY cache_status, floor(cache_similarity, 2) DESC LIMIT 30"
        )
        return [
            ("Feedback: average rating over time", self._over_range(f, ratings, title="ratings")),
            ("Feedback: average rating by route", bar_chart(by_route, title="ratings")),
            ("Guardrail block rate", self._over_range(f, blocks, title="guardrail blocks", unit="%")),
            ("Guardrail findings", bar_chart(by_guardrail, title="guardrail findings")),
            ("Faithfulness (RAG routes)", bar_chart(faithfulness, title="faithfulness scores")),
            ("Cache similarity (hits and misses, by 0.01)", bar_chart(similarity, title="cache lookups")),
        ]

    def _choices(self, f: Filters) -> tuple[list[str], list[str]]:
        tenants = [str(r[0]) for r in self.rows("SELECT DISTINCT tenant FROM {db}.requests ORDER BY tenant LIMIT 200")]
        models = [str(r[0]) for r in self.rows("SELECT DISTINCT logical_model FROM {db}.requests ORDER BY 1 LIMIT 200")]
        return tenants, models


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#111827;background:#f3f4f6}
header{background:#111827;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:center}
header a{color:#d1d5db;text-decoration:none}header a.on{color:#fff;font-weight:600}
form{padding:10px 20px;background:#fff;border-bottom:1px solid #e5e7eb;display:flex;gap:12px;align-items:center}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:16px;padding:16px 20px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:10px 12px}
h2{font-size:14px;margin:0 0 8px}table.breakers{border-collapse:collapse;font-size:12px}
td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #f3f4f6}.state.open{color:#dc2626}
.state.half_open{color:#d97706}.state.closed{color:#16a34a}p.none{color:#6b7280;font-size:12px}
"""


def _layout(page: str, f: Filters, sections: list[tuple[str, str]], choices: tuple[list[str], list[str]]) -> str:
    tenants, models = choices
    nav = "".join(
        f'<a class="{"on" if p == page else ""}" href="/dashboards/{p}?{f.query_string()}">{p.title()}</a>'
        for p in PAGES
    )

    def select(name: str, values: list[str], current: str, blank: str) -> str:
        options = [f'<option value="">{blank}</option>'] + [
            f'<option value="{html.escape(v)}"{" selected" if v == current else ""}>{html.escape(v)}</option>'
            for v in values
        ]
        return f'<select name="{name}">{"".join(options)}</select>'

    ranges = [f'<option value="{r}"{" selected" if r == f.range else ""}>last {r}</option>' for r in RANGES]
    body = "".join(f"<section><h2>{html.escape(title)}</h2>{chart}</section>" for title, chart in sections)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Turnout · {page}</title>"
        f"<style>{_STYLE}</style></head>"
        f"<body><header><strong>Turnout</strong>{nav}</header>"
        f'<form method="get" action="/dashboards/{page}"><select name="range">{"".join(ranges)}</select>'
        f"{select('tenant', tenants, f.tenant, 'all tenants')}{select('model', models, f.model, 'all routes')}"
        f'<button type="submit">Apply</button></form><main data-page="{page}">{body}</main></body></html>'
    )
