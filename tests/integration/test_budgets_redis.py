"""Budgets against the real Redis: reservations exact under concurrency, the ledger's settlement
counted once, alerts once per threshold, downgrade marks, lapsed reservations, fail open."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis

from schemas.config import TurnoutConfig, parse_config
from schemas.errors import BudgetExceeded, KillSwitchActive, ServiceUnavailable
from schemas.events import (
    BudgetVerdict,
    Caller,
    ChatMessage,
    ChatRequest,
    ControlEvent,
    RequestEvent,
    StageEvent,
    Usage,
    UsageEvent,
)
from streams.budgets import BudgetBook
from streams.controls import ControlBoard
from streams.ledger import BudgetLedger
from streams.metrics import Metrics
from streams.pipeline import Pipeline, entering
from streams.stages.answer import Answer
from streams.stages.budgets import to_nano
from tests.conftest import REDIS

CALLER = Caller(tenant="acme", team="t", user="u", tier="free", key_id="k")
NOW_S = 1_796_000_000.0
DEADLINE_US = int((NOW_S + 30) * 1e6)
# 1 + 4 prompt tokens at $1/M and 95 output tokens at $1/M: 100 micro-USD each
ESTIMATE_USD = 0.0001


def config(usd: float = 10 * ESTIMATE_USD, **budget: Any) -> TurnoutConfig:
    return parse_config(
        {
            "providers": {"p": {"base_url": "http://127.0.0.1:9/v1"}},
            "deployments": {"d": {"provider": "p", "model": "m", "input_usd_per_mtok": 1, "output_usd_per_mtok": 1}},
            "models": {"m": {"deployments": ["d"]}},
            "budgets": [{"name": "daily", "scope": "user", "usd": usd, "period": "day", **budget}],
            "keys": [{"id": "k", "key_sha256": "0" * 64, "tenant": "acme", "team": "t", "user": "u"}],
        }
    )


def chat() -> ChatRequest:
    return ChatRequest(model="m", messages=[ChatMessage(role="user", content="hi")], max_tokens=95)


def usage(request_id: str, cost_usd: float, at_s: float = NOW_S) -> UsageEvent:
    return UsageEvent(
        request_id=request_id,
        caller=CALLER,
        at_us=int(at_s * 1e6),
        logical_model="m",
        deployment="d",
        upstream_model="m",
        usage=Usage(prompt_tokens=5, completion_tokens=95, total_tokens=100),
        cost_usd=cost_usd,
    )


@pytest.fixture
async def redis() -> Any:
    client = aioredis.from_url(REDIS)
    yield client
    await client.aclose()


def book(redis: Any, cfg: TurnoutConfig | None = None) -> BudgetBook:
    return BudgetBook(cfg or config(), redis, f"t{uuid.uuid4().hex[:8]}")


async def test_exactly_what_fits_is_reserved_under_concurrency(redis: Any) -> None:
    budgets = book(redis)
    results = await asyncio.gather(
        *(budgets.reserve(CALLER, chat(), f"r{i}", DEADLINE_US, now_s=NOW_S) for i in range(100))
    )
    assert sum(a.reserved for a in results) == 10
    refused = next(a for a in results if not a.reserved)
    assert refused.over is not None and refused.over.rule.name == "daily"
    assert refused.held_nano == 10 * to_nano(ESTIMATE_USD) and refused.spent_nano == 0


async def test_the_ledger_settles_once_and_frees_what_the_estimate_held(redis: Any) -> None:
    budgets = book(redis)
    ledger = BudgetLedger({}, budgets)
    for i in range(10):
        assert (await budgets.reserve(CALLER, chat(), f"r{i}", DEADLINE_US, now_s=NOW_S)).reserved
    assert not (await budgets.reserve(CALLER, chat(), "r10", DEADLINE_US, now_s=NOW_S)).reserved
    # the first call cost half its estimate: its reservation goes, its real cost stays
    await ledger.record(usage("r0", ESTIMATE_USD / 2), partition=0, offset=7)
    await ledger.record(usage("r0", ESTIMATE_USD / 2), partition=0, offset=7)  # replayed: counted once
    (slot,) = budgets.slots_for(CALLER, "m", NOW_S)
    assert await budgets.spent_nano(slot) == to_nano(ESTIMATE_USD / 2)
    # half an estimate is free now: not enough for another request
    assert not (await budgets.reserve(CALLER, chat(), "r10", DEADLINE_US, now_s=NOW_S)).reserved
    await ledger.record(usage("r1", ESTIMATE_USD / 2), partition=1, offset=0)  # another shard of the slot
    assert await budgets.spent_nano(slot) == to_nano(ESTIMATE_USD)
    assert (await budgets.reserve(CALLER, chat(), "r10", DEADLINE_US, now_s=NOW_S)).reserved


async def test_a_replayed_reservation_is_held_once(redis: Any) -> None:
    budgets = book(redis)
    for _ in range(20):
        assert (await budgets.reserve(CALLER, chat(), "same", DEADLINE_US, now_s=NOW_S)).reserved
    results = [await budgets.reserve(CALLER, chat(), f"r{i}", DEADLINE_US, now_s=NOW_S) for i in range(10)]
    assert sum(a.reserved for a in results) == 9


async def test_release_and_lapse(redis: Any) -> None:
    budgets = book(redis, config(usd=ESTIMATE_USD))
    first = await budgets.reserve(CALLER, chat(), "r0", DEADLINE_US, now_s=NOW_S)
    assert first.reserved and not (await budgets.reserve(CALLER, chat(), "r1", DEADLINE_US, now_s=NOW_S)).reserved
    await budgets.release([s.key for s in first.slots], "r0")
    assert (await budgets.reserve(CALLER, chat(), "r1", DEADLINE_US, now_s=NOW_S)).reserved
    # r1's worker dies and nothing settles it: the reservation lapses a minute after its deadline
    later = DEADLINE_US / 1e6 + 61
    assert not (await budgets.reserve(CALLER, chat(), "r2", DEADLINE_US, now_s=DEADLINE_US / 1e6)).reserved
    assert (await budgets.reserve(CALLER, chat(), "r2", int((later + 30) * 1e6), now_s=later)).reserved


async def test_alerts_fire_once_per_threshold_and_period(redis: Any) -> None:
    budgets = book(redis, config(usd=4 * ESTIMATE_USD, alert_at=[0.5, 0.8, 1.0]))
    ledger = BudgetLedger({}, budgets)
    shares = []
    for i in range(5):
        alerts = await ledger.record(usage(f"r{i}", ESTIMATE_USD), partition=i % 2, offset=i)
        shares.append([a.threshold for a in alerts])
    assert shares == [[], [0.5], [], [0.8, 1.0], []]
    # the next day starts from zero, and its thresholds are announced again
    tomorrow = NOW_S + 86_400
    assert await ledger.record(usage("n0", ESTIMATE_USD, at_s=tomorrow), partition=0, offset=5) == []
    (alert,) = await ledger.record(usage("n1", ESTIMATE_USD, at_s=tomorrow), partition=0, offset=6)
    assert (alert.threshold, alert.request_id, alert.budget, alert.scope_value) == (0.5, "n1", "daily", "acme/u")
    assert alert.spent_usd == pytest.approx(2 * ESTIMATE_USD) and alert.limit_usd == pytest.approx(4 * ESTIMATE_USD)


async def test_past_the_downgrade_mark_the_book_asks_for_a_downgrade(redis: Any) -> None:
    budgets = book(redis, config(usd=10 * ESTIMATE_USD, downgrade_at=0.5))
    results = [await budgets.reserve(CALLER, chat(), f"r{i}", DEADLINE_US, now_s=NOW_S) for i in range(6)]
    assert [a.reserved for a in results] == [True] * 5 + [False]
    assert results[-1].downgrade is not None and results[-1].over is None
    # without the downgrade (the cheaper model is reserved with allow_downgrade=False) it still fits
    again = await budgets.reserve(CALLER, chat(), "r5", DEADLINE_US, allow_downgrade=False, now_s=NOW_S)
    assert again.reserved


async def test_the_resync_restores_spend_that_redis_lost(redis: Any) -> None:
    budgets = book(redis)
    table: dict[str, Any] = {}
    ledger = BudgetLedger(table, budgets)
    await ledger.record(usage("r0", ESTIMATE_USD), partition=0, offset=0)
    await ledger.record(usage("r1", 2 * ESTIMATE_USD), partition=1, offset=0)
    (slot,) = budgets.slots_for(CALLER, "m", NOW_S)
    await redis.delete(f"{slot.key}:spent")
    assert await budgets.spent_nano(slot) == 0
    assert await ledger.resync({0}, NOW_S) == 1  # partition 1 is another worker's
    assert await budgets.spent_nano(slot) == to_nano(ESTIMATE_USD)
    assert await ledger.resync({0, 1}, NOW_S) == 2
    assert await budgets.spent_nano(slot) == to_nano(3 * ESTIMATE_USD)


async def test_redis_down_is_reported_not_raised() -> None:
    client = aioredis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    try:
        admission = await book(client).reserve(CALLER, chat(), "r0", DEADLINE_US, now_s=NOW_S)
        assert admission.redis_down and not admission.reserved
    finally:
        await client.aclose()


def pipeline_config(redis_down: str = "open") -> TurnoutConfig:
    """Two models: ``m`` downgrades to ``cheap`` past half of the user's budget."""
    return parse_config(
        {
            "providers": {"p": {"base_url": "http://127.0.0.1:9/v1"}},
            "deployments": {
                "d": {"provider": "p", "model": "m", "input_usd_per_mtok": 1, "output_usd_per_mtok": 1},
                "c": {"provider": "p", "model": "c", "input_usd_per_mtok": 0.1, "output_usd_per_mtok": 0.1},
            },
            "models": {
                "m": {"deployments": ["d"], "on_limit": {"downgrade_to": "cheap", "redis_down": redis_down}},
                "cheap": {"deployments": ["c"]},
            },
            "budgets": [
                {"name": "daily", "scope": "user", "usd": 4 * ESTIMATE_USD, "period": "day", "downgrade_at": 0.5}
            ],
            "keys": [{"id": "k", "key_sha256": "0" * 64, "tenant": "acme", "team": "t", "user": "u"}],
        }
    )


def envelope(request_id: str, request: ChatRequest | None = None) -> StageEvent:
    return entering(
        RequestEvent(
            request_id=request_id,
            reply_to="x",
            source="kafka",
            received_at_us=0,
            deadline_at_us=int((time.time() + 30) * 1e6),  # the pipeline reserves at the real time
            caller=CALLER,
            request=request or chat(),
        )
    )


async def test_the_pipeline_reserves_downgrades_then_refuses_naming_the_budget(redis: Any) -> None:
    cfg = pipeline_config()
    budgets = BudgetBook(cfg, redis, f"t{uuid.uuid4().hex[:8]}")
    pipeline = Pipeline(cfg, invoker=None, budgets=budgets, controls=ControlBoard(loaded=True))  # type: ignore[arg-type]
    verdicts = []
    for i in range(2):
        admitted = await pipeline._admit(envelope(f"r{i}"))
        assert isinstance(admitted, StageEvent) and admitted.budget is not None
        verdicts.append((admitted.envelope.request.model, admitted.budget.action, admitted.budget.budget))
    # half the budget is reserved: the cheaper model (a tenth of the price) serves, until even it does not fit
    for i in range(2, 22):
        admitted = await pipeline._admit(envelope(f"r{i}"))
        assert isinstance(admitted, StageEvent) and admitted.budget is not None
        verdicts.append((admitted.envelope.request.model, admitted.budget.action, admitted.budget.budget))
    assert verdicts == [("m", "admit", None)] * 2 + [("cheap", "downgrade", "daily")] * 20
    with pytest.raises(BudgetExceeded, match=r"Budget `daily` \(user acme/u, \$0.0004 per day\) is used up") as err:
        await pipeline._admit(envelope("r22"))
    assert err.value.retry_after_s is not None and err.value.retry_after_s >= 1
    assert err.value.status == 429 and err.value.code == "budget_exceeded"


async def test_an_answer_without_spend_gives_the_reservation_back(redis: Any) -> None:
    cfg = config(usd=ESTIMATE_USD)
    budgets = BudgetBook(cfg, redis, f"t{uuid.uuid4().hex[:8]}")
    pipeline = Pipeline(cfg, invoker=None, budgets=budgets)  # type: ignore[arg-type]
    admitted = await pipeline._admit(envelope("r0"))
    assert isinstance(admitted, StageEvent)
    with pytest.raises(BudgetExceeded):
        await pipeline._admit(envelope("r1"))
    # r0 fails in a later stage without a provider call: the answer releases what it held
    result = await pipeline.run_stage(
        "route",
        replace(
            admitted, envelope=replace(admitted.envelope, request=replace(admitted.envelope.request, model="missing"))
        ),
        emitter=None,
    )  # type: ignore[arg-type]
    assert isinstance(result, Answer) and result.record.status == 404
    assert isinstance(await pipeline._admit(envelope("r1")), StageEvent)


async def test_a_kill_switch_refuses_before_anything_is_taken(redis: Any) -> None:
    cfg = config()
    controls = ControlBoard(loaded=True)
    budgets = BudgetBook(cfg, redis, f"t{uuid.uuid4().hex[:8]}")
    pipeline = Pipeline(cfg, invoker=None, budgets=budgets, controls=controls)  # type: ignore[arg-type]
    controls.apply(ControlEvent(scope="team", value="acme/t", killed=True, at_us=1, reason="incident 42"))
    with pytest.raises(KillSwitchActive, match="team `acme/t`: incident 42"):
        await pipeline._admit(envelope("r0"))
    (slot,) = budgets.slots_for(CALLER, "m", NOW_S)
    assert await redis.hlen(f"{slot.key}:reserved") == 0


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_unreachable_redis_fails_open_or_closed_for_budgets(mode: str) -> None:
    cfg = pipeline_config(redis_down=mode)
    dead = aioredis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    metrics = Metrics()
    pipeline = Pipeline(cfg, invoker=None, budgets=BudgetBook(cfg, dead, "t", metrics))  # type: ignore[arg-type]
    try:
        if mode == "open":
            admitted = await pipeline._admit(envelope("r0"))
            assert isinstance(admitted, StageEvent) and admitted.budget == BudgetVerdict("fail_open")
        else:
            with pytest.raises(ServiceUnavailable, match="Budgets cannot be checked"):
                await pipeline._admit(envelope("r0"))
        assert metrics.value("turnout_redis_unavailable_total", part="budgets") == 1
    finally:
        await dead.aclose()
