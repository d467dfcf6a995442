"""Events -> ClickHouse rows, one function per table (pure: tested without a database).

Timestamps stay integer microseconds since the epoch: they are the ticks of the tables'
``DateTime64(6, 'UTC')`` columns, and clickhouse-connect writes an int column's values as ticks
(it picks a column's write format from its first value). A ``datetime`` per timestamp cost the
sink about 2 µs each way, some 40 µs of a fused request's 17 timestamps.
"""

from __future__ import annotations

from typing import Any

from schemas.events import (
    Attempt,
    AttemptEvent,
    BreakerEvent,
    BudgetEvent,
    ControlEvent,
    FeedbackEvent,
    GuardEvent,
    ReplayDecision,
    RequestRecord,
    ShadowAnswer,
    UsageEvent,
)
from streams.tracing import request_span_id, span_id

__all__ = ["TABLE_COLUMNS", "attempt_row", "request_row", "row_for", "rows_for", "span_rows", "usage_row"]


def _attempt_tuple(a: Attempt) -> tuple[Any, ...]:
    return (
        a.deployment,
        a.provider,
        a.ok,
        a.error_class or "",
        a.http_status or 0,
        a.started_at_us,
        a.latency_us,
        a.ttft_us,
    )


TABLE_COLUMNS: dict[str, list[str]] = {
    "requests": [
        "request_id",
        "tenant",
        "team",
        "user",
        "tier",
        "key_id",
        "feature",
        "source",
        "received_at",
        "finished_at",
        "logical_model",
        "deployment",
        "upstream_model",
        "provider",
        "stream",
        "status",
        "error_class",
        "attempts",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "total_tokens",
        "cost_usd",
        "total_us",
        "upstream_us",
        "ttft_us",
        "cache_hit",
        "guard_action",
        "route_reason",
        "limit_action",
        "downgraded_from",
        "budget",
        "routed_model",
        "route_score",
        "guard_us",
        "cache_status",
        "cache_kind",
        "cache_similarity",
        "cache_entry",
        "cache_saved_usd",
        "trace_id",
        "parent_span_id",
    ],
    "spans": [
        "trace_id",
        "span_id",
        "parent_span_id",
        "request_id",
        "tenant",
        "name",
        "start",
        "end",
        "duration_us",
        "status",
        "attributes",
    ],
    "shadow_answers": [
        "run_id",
        "request_id",
        "tenant",
        "at",
        "original_deployment",
        "candidate_deployment",
        "status",
        "latency_us",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "original_answer",
        "candidate_answer",
        "similarity",
        "error_class",
    ],
    "feedback": ["feedback_id", "request_id", "tenant", "key_id", "user", "score", "comment", "at"],
    "attempts": [
        "request_id",
        "tenant",
        "logical_model",
        "attempt_no",
        "deployment",
        "provider",
        "ok",
        "error_class",
        "http_status",
        "started_at",
        "latency_us",
        "ttft_us",
    ],
    "breaker_events": ["deployment", "state", "previous_state", "reason", "at", "opened_at"],
    "budget_events": [
        "budget",
        "scope",
        "scope_value",
        "period",
        "period_end",
        "threshold",
        "spent_usd",
        "limit_usd",
        "request_id",
        "at",
    ],
    "control_events": ["scope", "value", "killed", "reason", "at"],
    "replay_decisions": [
        "run_id",
        "request_id",
        "tenant",
        "received_at",
        "requested_model",
        "original_deployment",
        "candidate_model",
        "candidate_deployment",
        "reason",
        "changed",
        "prompt_tokens",
        "completion_tokens",
        "cost_before_usd",
        "cost_after_usd",
        "score",
    ],
    "guard_events": [
        "request_id",
        "tenant",
        "logical_model",
        "stage",
        "guardrail",
        "action",
        "category",
        "count",
        "score",
        "latency_us",
        "at",
    ],
    "usage": [
        "request_id",
        "tenant",
        "team",
        "user",
        "feature",
        "at",
        "logical_model",
        "deployment",
        "upstream_model",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
        "cost_usd",
    ],
}


def request_row(r: RequestRecord) -> list[Any]:
    c, u = r.caller, r.usage
    return [
        r.request_id,
        c.tenant,
        c.team,
        c.user,
        c.tier,
        c.key_id,
        c.feature or "",
        r.source,
        r.received_at_us,
        r.finished_at_us,
        r.logical_model,
        r.deployment,
        r.upstream_model,
        r.provider,
        r.stream,
        r.status,
        r.error_class or "",
        [_attempt_tuple(a) for a in r.attempts],
        u.prompt_tokens,
        u.completion_tokens,
        u.cached_tokens,
        u.total_tokens or u.prompt_tokens + u.completion_tokens,
        r.cost_usd,
        r.total_us,
        r.upstream_us,
        r.ttft_us,
        r.cache_hit,
        r.guard_action,
        r.route_reason,
        r.limit_action,
        r.downgraded_from or "",
        r.budget or "",
        r.routed_model,
        r.route_score,
        r.guard_us,
        r.cache_status,
        r.cache_kind,
        r.cache_similarity,
        r.cache_entry,
        r.cache_saved_usd,
        r.trace_id,
        r.parent_span_id,
    ]


def attempt_row(e: AttemptEvent) -> list[Any]:
    a = e.attempt
    return [
        e.request_id,
        e.caller.tenant,
        e.logical_model,
        e.attempt_no,
        a.deployment,
        a.provider,
        a.ok,
        a.error_class or "",
        a.http_status or 0,
        a.started_at_us,
        a.latency_us,
        a.ttft_us,
    ]


def usage_row(e: UsageEvent) -> list[Any]:
    c, u = e.caller, e.usage
    return [
        e.request_id,
        c.tenant,
        c.team,
        c.user,
        c.feature or "",
        e.at_us,
        e.logical_model,
        e.deployment,
        e.upstream_model,
        u.prompt_tokens,
        u.completion_tokens,
        u.cached_tokens,
        e.cost_usd,
    ]


def breaker_row(e: BreakerEvent) -> list[Any]:
    return [e.deployment, e.state, e.previous_state, e.reason, e.at_us, e.opened_at_us]


def budget_row(e: BudgetEvent) -> list[Any]:
    return [
        e.budget,
        e.scope,
        e.scope_value,
        e.period,
        e.period_end_us,
        e.threshold,
        e.spent_usd,
        e.limit_usd,
        e.request_id,
        e.at_us,
    ]


def control_row(e: ControlEvent) -> list[Any]:
    return [e.scope, e.value, e.killed, e.reason, e.at_us]


def guard_row(e: GuardEvent) -> list[Any]:
    return [
        e.request_id,
        e.tenant,
        e.logical_model,
        e.stage,
        e.guardrail,
        e.action,
        e.category,
        e.count,
        e.score,
        e.latency_us,
        e.at_us,
    ]


def replay_row(e: ReplayDecision) -> list[Any]:
    return [
        e.run_id,
        e.request_id,
        e.tenant,
        e.received_at_us,
        e.requested_model,
        e.original_deployment,
        e.candidate_model,
        e.candidate_deployment,
        e.reason,
        e.changed,
        e.prompt_tokens,
        e.completion_tokens,
        e.cost_before_usd,
        e.cost_after_usd,
        e.score,
    ]


def span_rows(r: RequestRecord) -> list[list[Any]]:
    """The request's spans: the gateway's own (``turnout.request``, child of the caller's span), one per
    stage that passed the request on, and one per provider attempt; ids from :mod:`streams.tracing`."""
    if not r.trace_id:
        return []
    tenant, root = r.caller.tenant, request_span_id(r.request_id)

    def span(span_id: str, parent: str, name: str, start: int, end: int, ok: bool, **attrs: Any) -> list[Any]:
        end = max(start, end)
        attributes = {k: str(v) for k, v in attrs.items() if v not in (None, "")}
        status = "ok" if ok else "error"
        return [
            r.trace_id,
            span_id,
            parent,
            r.request_id,
            tenant,
            name,
            start,
            end,
            end - start,
            status,
            attributes,
        ]

    rows = [
        span(
            root,
            r.parent_span_id,
            "turnout.request",
            r.received_at_us,
            r.finished_at_us,
            r.status < 400,
            logical_model=r.logical_model,
            deployment=r.deployment,
            status=r.status,
            error_class=r.error_class,
            cache=r.cache_status,
        )
    ]
    for stage in r.stages:
        rows.append(
            span(
                span_id(r.request_id, "stage", stage.stage),
                root,
                f"stage {stage.stage}",
                stage.started_at_us,
                stage.ended_at_us,
                True,
            )
        )
    for n, a in enumerate(r.attempts, start=1):
        rows.append(
            span(
                span_id(r.request_id, "attempt", n),
                root,
                f"provider {a.provider}",
                a.started_at_us,
                a.started_at_us + a.latency_us,
                a.ok,
                deployment=a.deployment,
                attempt=n,
                http_status=a.http_status,
                error_class=a.error_class,
                ttft_us=a.ttft_us,
            )
        )
    return rows


def feedback_row(e: FeedbackEvent) -> list[Any]:
    return [e.feedback_id, e.request_id, e.tenant, e.key_id, e.user, e.score, e.comment or "", e.at_us]


def rows_for(event: Any) -> list[tuple[str, list[Any]]]:
    """Every table row an event makes (a request record: its row and its spans)."""
    if isinstance(event, RequestRecord):
        return [("requests", request_row(event)), *(("spans", row) for row in span_rows(event))]
    if isinstance(event, FeedbackEvent):
        return [("feedback", feedback_row(event))]
    if isinstance(event, ShadowAnswer):
        e = event
        row = [e.run_id, e.request_id, e.tenant, e.at_us, e.original_deployment, e.candidate_deployment]
        row += [e.status, e.latency_us, e.prompt_tokens, e.completion_tokens, e.cost_usd]
        row += [e.original_answer, e.candidate_answer, e.similarity, e.error_class or ""]
        return [("shadow_answers", row)]
    found = row_for(event)
    return [found] if found is not None else []


def row_for(event: Any) -> tuple[str, list[Any]] | None:
    """The table and row for an event, or None for events no table holds."""
    if isinstance(event, RequestRecord):
        return "requests", request_row(event)
    if isinstance(event, AttemptEvent):
        return "attempts", attempt_row(event)
    if isinstance(event, UsageEvent):
        return "usage", usage_row(event)
    if isinstance(event, BreakerEvent):
        return "breaker_events", breaker_row(event)
    if isinstance(event, BudgetEvent):
        return "budget_events", budget_row(event)
    if isinstance(event, ControlEvent):
        return "control_events", control_row(event)
    if isinstance(event, GuardEvent):
        return "guard_events", guard_row(event)
    if isinstance(event, ReplayDecision):
        return "replay_decisions", replay_row(event)
    return None
