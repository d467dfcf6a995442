"""``finish``: the reply for the client and the record for analytics, from the event so far."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from schemas.events import (
    Attempt,
    CacheVerdict,
    ChatResponse,
    ErrorInfo,
    GuardVerdict,
    RouteDecision,
    StageEvent,
    Usage,
)
from streams.stages.answer import finish

RECEIVED = 1_700_000_000_000_000
ROUTE = RouteDecision(
    logical_model="smart-chat",
    deployment="sim-gpt-4o-mini",
    provider="simulator",
    upstream_model="gpt-4o-mini",
    reason="fallback",
    fallbacks=[],
)
RESPONSE = ChatResponse(
    id="x",
    content="Hi",
    finish_reason="stop",
    usage=Usage(prompt_tokens=10, completion_tokens=2, cached_tokens=4, total_tokens=12),
    upstream_model="gpt-4o-mini",
    created=1,
)
ERROR = ErrorInfo(status=503, type="overloaded", message="busy", error_class="ProviderOverloaded")
ATTEMPTS = [
    Attempt(
        "sim-gpt-4o",
        "simulator",
        ok=False,
        started_at_us=RECEIVED + 100,
        latency_us=3_000,
        error_class="ProviderOverloaded",
        http_status=503,
        ttft_us=None,
    ),
    Attempt(
        "sim-gpt-4o",
        "simulator",
        ok=False,
        started_at_us=RECEIVED + 3_200,
        latency_us=2_000,
        error_class="ProviderStreamBroken",
        http_status=502,
        ttft_us=500,
    ),
    Attempt("sim-gpt-4o-mini", "simulator", ok=True, started_at_us=RECEIVED + 5_300, latency_us=5_000, ttft_us=800),
]


def test_a_served_request(stage_event: Callable[..., StageEvent]) -> None:
    event = stage_event(
        input_guard=GuardVerdict(action="pass"),
        cache=CacheVerdict(status="miss"),
        route=ROUTE,
        response=RESPONSE,
        attempts=ATTEMPTS,
        streamed_chunks=3,
        request={"stream": True},
    )
    answer = finish(event, RECEIVED + 20_000, response=RESPONSE, cost_usd=0.25)

    assert answer.reply_to == "turnout.replies.gw-1"
    reply = answer.reply
    assert (reply.request_id, reply.logical_model, reply.response, reply.error) == (
        "req-1",
        "smart-chat",
        RESPONSE,
        None,
    )
    assert (reply.deployment, reply.cache_hit, reply.chunks_sent) == ("sim-gpt-4o-mini", False, 3)
    assert reply.upstream_us == 10_000
    assert reply.gateway_us == 10_000
    record = answer.record
    assert record.status == 200
    assert record.error_class is None
    assert record.usage == RESPONSE.usage
    assert record.cost_usd == 0.25
    assert (record.deployment, record.upstream_model, record.provider) == (
        "sim-gpt-4o-mini",
        "gpt-4o-mini",
        "simulator",
    )
    assert (record.received_at_us, record.finished_at_us, record.total_us) == (RECEIVED, RECEIVED + 20_000, 20_000)
    assert record.upstream_us == 10_000
    assert record.ttft_us == 800  # from the last attempt that succeeded, not the broken one before it
    assert record.attempts == ATTEMPTS
    assert (record.stream, record.source, record.caller) == (True, "http", event.envelope.caller)
    assert record.guard_action == "pass"


def test_a_failed_request(stage_event: Callable[..., StageEvent]) -> None:
    event = stage_event(route=ROUTE, attempts=ATTEMPTS[:2])
    answer = finish(event, RECEIVED + 8_000, error=ERROR)

    assert answer.reply.error == ERROR
    assert answer.reply.response is None
    assert answer.reply.chunks_sent == 0
    assert answer.record.status == 503
    assert answer.record.error_class == "ProviderOverloaded"
    assert answer.record.usage == Usage()
    assert answer.record.cost_usd == 0.0
    assert answer.record.upstream_us == 5_000
    assert answer.reply.gateway_us == 3_000
    assert answer.record.ttft_us is None


def test_an_error_before_routing(stage_event: Callable[..., StageEvent]) -> None:
    error = ErrorInfo(status=404, type="invalid_request_error", message="no", code="model_not_found")
    answer = finish(stage_event(), RECEIVED + 50, error=error)
    assert (answer.reply.deployment, answer.record.deployment, answer.record.provider) == ("", "", "")
    assert answer.record.upstream_model == ""
    assert answer.record.status == 404
    assert (answer.reply.upstream_us, answer.reply.gateway_us, answer.record.total_us) == (0, 50, 50)
    assert answer.record.attempts == []


@pytest.mark.parametrize(
    ("cache", "input_guard", "guard_action", "cache_hit", "action"),
    [
        (None, None, None, False, "pass"),
        (CacheVerdict(status="hit", similarity=0.99), None, None, True, "pass"),
        (CacheVerdict(status="skip"), GuardVerdict(action="flag", findings=["pii"]), None, False, "flag"),
        (None, GuardVerdict(action="flag"), "redact", False, "redact"),
    ],
)
def test_cache_hit_and_guard_action(
    stage_event: Callable[..., StageEvent],
    cache: CacheVerdict | None,
    input_guard: GuardVerdict | None,
    guard_action: str | None,
    cache_hit: bool,
    action: str,
) -> None:
    event = stage_event(cache=cache, input_guard=input_guard, route=ROUTE)
    answer = finish(event, RECEIVED + 1, response=RESPONSE, guard_action=guard_action)
    assert answer.reply.cache_hit is cache_hit
    assert answer.record.cache_hit is cache_hit
    assert answer.record.guard_action == action


def test_a_clock_behind_the_receipt_gives_zero_not_negative_times(stage_event: Callable[..., StageEvent]) -> None:
    answer = finish(stage_event(attempts=ATTEMPTS), RECEIVED - 1_000, error=ERROR)
    assert answer.record.total_us == 0
    assert answer.reply.gateway_us == 0


@pytest.mark.parametrize("both", [True, False])
def test_exactly_one_of_response_and_error(stage_event: Callable[..., StageEvent], both: bool) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        if both:
            finish(stage_event(), RECEIVED, response=RESPONSE, error=ERROR)
        else:
            finish(stage_event(), RECEIVED)
