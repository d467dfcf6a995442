"""How a request ends: the reply for the client and the record for ClickHouse."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import ChatResponse, EmbeddingsResponse, ErrorInfo, ReplyEvent, RequestRecord, StageEvent, Usage

__all__ = ["Answer", "finish"]


@dataclass(frozen=True, slots=True)
class Answer:
    """A stage's final word on a request: the reply goes to ``reply_to``, the record to analytics."""

    reply: ReplyEvent
    record: RequestRecord
    reply_to: str
    deadline_at_us: int = 0  # the request's deadline: past it (and a grace), nobody waits for the reply


def finish(
    event: StageEvent,
    now_us: int,
    *,
    response: ChatResponse | None = None,
    error: ErrorInfo | None = None,
    embeddings: EmbeddingsResponse | None = None,
    cost_usd: float = 0.0,
    guard_action: str | None = None,
    guard_us: int | None = None,
) -> Answer:
    """The answer to ``event``: exactly one of ``response``, ``embeddings`` and ``error``."""
    if sum(x is not None for x in (response, error, embeddings)) != 1:
        raise ValueError("give exactly one of response, embeddings and error")
    envelope = event.envelope
    route = event.route
    upstream_us = sum(a.latency_us for a in event.attempts)
    total_us = max(0, now_us - envelope.received_at_us)
    ttft = next((a.ttft_us for a in reversed(event.attempts) if a.ok and a.ttft_us is not None), None)
    cache = event.cache
    cache_hit = cache is not None and cache.status == "hit"
    if guard_action is None:
        guard_action = event.input_guard.action if event.input_guard else "pass"
    if guard_us is None:
        guard_us = event.input_guard.latency_us if event.input_guard else 0
    limit_action = event.limit.action if event.limit else ""
    downgraded_from = event.limit.downgraded_from if event.limit else None
    budget = event.budget
    if budget is not None and budget.action == "downgrade":
        limit_action, downgraded_from = "budget_downgrade", budget.downgraded_from
    elif budget is not None and budget.action == "fail_open" and limit_action != "fail_open":
        limit_action = "budget_fail_open"  # the budgets could not be checked (Redis down)
    reply = ReplyEvent(
        request_id=envelope.request_id,
        logical_model=envelope.request.model,
        response=response,
        error=error,
        embeddings=embeddings,
        deployment=route.deployment if route else "",
        cache_hit=cache_hit,
        gateway_us=max(0, total_us - upstream_us),
        upstream_us=upstream_us,
        chunks_sent=event.streamed_chunks or 0,
        cache=cache,
    )
    record = RequestRecord(
        request_id=envelope.request_id,
        caller=envelope.caller,
        source=envelope.source,
        received_at_us=envelope.received_at_us,
        finished_at_us=now_us,
        logical_model=envelope.request.model,
        status=200 if error is None else error.status,
        usage=response.usage if response is not None else embeddings.usage if embeddings is not None else Usage(),
        total_us=total_us,
        deployment=route.deployment if route else "",
        upstream_model=route.upstream_model if route else "",
        provider=route.provider if route else "",
        stream=envelope.request.stream,
        error_class=error.error_class if error is not None else None,
        attempts=list(event.attempts),
        cost_usd=cost_usd,
        upstream_us=upstream_us,
        ttft_us=ttft,
        cache_hit=cache_hit,
        guard_action=guard_action,
        route_reason=route.reason if route else "",
        limit_action=limit_action,
        downgraded_from=downgraded_from,
        budget=budget.budget if budget is not None else None,
        routed_model=route.logical_model if route else "",
        route_score=route.score if route else None,
        guard_us=guard_us,
        cache_status=cache.status if cache is not None else "",
        cache_kind=(cache.kind or "") if cache_hit and cache is not None else "",
        cache_similarity=cache.similarity if cache is not None else None,
        cache_entry=(cache.entry or "") if cache_hit and cache is not None else "",
        cache_saved_usd=cache.saved_usd if cache_hit and cache is not None else 0.0,
        trace_id=envelope.trace_id,
        parent_span_id=envelope.parent_span_id,
        stages=list(event.timings),
    )
    return Answer(reply=reply, record=record, reply_to=envelope.reply_to, deadline_at_us=envelope.deadline_at_us)
