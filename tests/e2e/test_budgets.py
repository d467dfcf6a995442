"""Budgets across two workers: reservations that hold under a burst, the window's reset,
auto-downgrade, alerts (events and a webhook), kill switches, and spend in ClickHouse."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import redis

from schemas.config import TurnoutConfig
from schemas.events import Caller
from streams.stages.budgets import budgets_for, to_nano
from tests.conftest import REDIS, free_port
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.controls import set_kill_switch
from turnout.stack import Stack, wait_until

DEMO_KEY = "sk-turnout-demo"
RUN = uuid.uuid4().hex[:6]
WINDOW_S = 20
# gpt-4o at $2.50 / $10 per million: a prompt "qNN" is 1 + 4 tokens, and with max_tokens 5 the
# reply is 5 words ("Simulated reply from gpt-4o: qNN"), so the estimate is the real cost exactly
CALL_USD = (5 * 2.5 + 5 * 10.0) / 1e6
BURST_BUDGET_USD = 10 * CALL_USD


class Webhook:
    """A real HTTP server that keeps what is POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture(scope="module")
def gateway(make_config: Any, webhook: Webhook) -> Iterator[tuple[Stack, TurnoutConfig]]:
    models = {
        "budget-chat": {"deployments": ["sim-gpt-4o"]},
        "dgb-chat": {"deployments": ["sim-gpt-4o"], "on_limit": {"downgrade_to": "best-cheap-chat"}},
    }
    budgets = [
        {
            "name": f"burst-{RUN}",
            "scope": "user",
            "model": "budget-chat",
            "usd": BURST_BUDGET_USD,
            "window_s": WINDOW_S,
        },
        {
            "name": f"dg-{RUN}",
            "scope": "user",
            "model": "dgb-chat",
            "usd": 3 * CALL_USD,
            "period": "day",
            "downgrade_at": 0.5,
            "alert_at": [0.5, 1.0],
            "webhook_url": webhook.url,
        },
        {"name": f"team-{RUN}", "scope": "team", "usd": 100.0, "period": "month"},
        {"name": f"feature-{RUN}", "scope": "feature", "usd": 100.0, "period": "month"},
    ]
    with running_stack(make_config, workers=2, models=models, budgets_list=budgets) as run:
        yield run


async def burst(stack: Stack, model: str, n: int, feature: str | None = None, **body: Any) -> list[httpx.Response]:
    headers = {"authorization": f"Bearer {DEMO_KEY}"}
    if feature:
        headers["x-turnout-feature"] = feature
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, limits=httpx.Limits(max_connections=n)) as client:

        async def one(i: int) -> httpx.Response:
            messages = [{"role": "user", "content": f"q{i}"}]
            return await client.post(
                "/chat/completions", headers=headers, json={"model": model, "messages": messages, **body}
            )

        return await asyncio.gather(*(one(i) for i in range(n)))


def rows(config: TurnoutConfig, sql: str) -> list[list[Any]]:
    return run_sql(config, sql.format(db=config.clickhouse.database)).rows


def test_a_burst_three_times_the_budget_spends_no_more_than_it_then_the_window_resets(
    gateway: tuple[Stack, TurnoutConfig],
) -> None:
    stack, config = gateway
    # the burst starts early in a window so that it ends inside it
    wait_until(lambda: time.time() % WINDOW_S < 2, WINDOW_S + 5, "a window's start", interval_s=0.05)
    window = int(time.time() // WINDOW_S)
    replies = asyncio.run(burst(stack, "budget-chat", 30, feature=f"f-{RUN}", max_tokens=5))
    assert int(time.time() // WINDOW_S) == window, "the burst crossed a window boundary"
    statuses = [r.status_code for r in replies]
    # every estimate equals its real cost, so the stated bound (the sum of what estimates missed) is
    # zero: exactly the requests that fit are served
    assert (statuses.count(200), statuses.count(429)) == (10, 20), [r.text[:160] for r in replies]
    error = next(r for r in replies if r.status_code == 429).json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
    assert f"burst-{RUN}" in error["message"]
    served = [r.headers["x-request-id"] for r in replies if r.status_code == 200]
    ids = ",".join(f"'{i}'" for i in served)
    sql = f"SELECT count(), sum(cost_usd) FROM {{db}}.usage FINAL WHERE request_id IN ({ids})"
    wait_until(lambda: rows(config, sql)[0][0] == 10, 30, "usage rows")
    spent = rows(config, sql)[0][1]
    assert spent <= BURST_BUDGET_USD + 1e-12
    assert spent == pytest.approx(BURST_BUDGET_USD)
    # the next window starts from zero
    wait_until(lambda: int(time.time() // WINDOW_S) > window, WINDOW_S + 5, "the next window", interval_s=0.1)
    again = asyncio.run(burst(stack, "budget-chat", 3, feature=f"f-{RUN}", max_tokens=5))
    assert [r.status_code for r in again] == [200] * 3


def test_past_the_downgrade_mark_the_cheaper_model_serves_and_alerts_go_out(
    gateway: tuple[Stack, TurnoutConfig], webhook: Webhook
) -> None:
    stack, config = gateway
    replies = [asyncio.run(burst(stack, "dgb-chat", 1, max_tokens=5))[0] for _ in range(4)]
    assert [r.status_code for r in replies] == [200] * 4, [r.text[:200] for r in replies]
    served_by = [r.json()["choices"][0]["message"]["content"].split(":")[0] for r in replies]
    # spend 0 and 1/3 of the budget: gpt-4o; from 2/3 (past the 50 % mark): the cheaper model
    assert served_by == ["Simulated reply from gpt-4o"] * 2 + ["Simulated reply from gpt-4o-mini"] * 2
    ids = ",".join(f"'{r.headers['x-request-id']}'" for r in replies)
    sql = (
        "SELECT logical_model, limit_action, downgraded_from, budget FROM {db}.requests FINAL "
        f"WHERE request_id IN ({ids}) ORDER BY received_at"
    )
    wait_until(lambda: len(rows(config, sql)) == 4, 30, "request rows")
    assert rows(config, sql) == [
        ["dgb-chat", "admit", "", ""],
        ["dgb-chat", "admit", "", ""],
        ["best-cheap-chat", "budget_downgrade", "dgb-chat", f"dg-{RUN}"],
        ["best-cheap-chat", "budget_downgrade", "dgb-chat", f"dg-{RUN}"],
    ]
    # the settled spend reached 50 % with the second call: one alert, as an event and a webhook
    alerts = f"SELECT threshold, scope_value, spent_usd FROM {{db}}.budget_events FINAL WHERE budget = 'dg-{RUN}'"
    wait_until(lambda: len(rows(config, alerts)) == 1, 30, "the budget event")
    threshold, who, spent = rows(config, alerts)[0]
    assert (threshold, who) == (0.5, "acme/demo-user") and spent == pytest.approx(2 * CALL_USD)
    wait_until(lambda: any(b["budget"] == f"dg-{RUN}" for b in webhook.bodies), 10, "the webhook")
    (body,) = [b for b in webhook.bodies if b["budget"] == f"dg-{RUN}"]
    assert body["type"] == "budget.threshold" and body["threshold"] == 0.5
    assert body["limit_usd"] == pytest.approx(3 * CALL_USD)


def test_a_kill_switch_stops_both_workers_within_a_second(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    feature = f"kill-{RUN}"
    before = asyncio.run(burst(stack, "best-cheap-chat", 10, feature=feature))
    assert [r.status_code for r in before] == [200] * 10
    set_kill_switch(config.kafka, "feature", f"acme/{feature}", killed=True, reason="runaway agent")
    switched = time.monotonic()
    wait_until(lambda: time.monotonic() - switched >= 1.0, 2, "a second")
    # 20 requests with random ids land on both partitions, so on both workers
    during = asyncio.run(burst(stack, "best-cheap-chat", 20, feature=feature))
    assert [r.status_code for r in during] == [403] * 20, [r.text[:160] for r in during]
    error = during[0].json()["error"]
    assert error["code"] == "kill_switch" and "runaway agent" in error["message"]
    other = asyncio.run(burst(stack, "best-cheap-chat", 5, feature=f"other-{RUN}"))
    assert [r.status_code for r in other] == [200] * 5  # nobody else is stopped
    set_kill_switch(config.kafka, "feature", f"acme/{feature}", killed=False)

    def served_again() -> bool:
        return all(r.status_code == 200 for r in asyncio.run(burst(stack, "best-cheap-chat", 10, feature=feature)))

    wait_until(served_again, 10, "requests served again")
    sql = f"SELECT killed FROM {{db}}.control_events FINAL WHERE value = 'acme/{feature}' ORDER BY at"
    wait_until(lambda: len(rows(config, sql)) == 2, 30, "control events")
    assert rows(config, sql) == [[True], [False]]


def test_spend_per_caller_and_model_in_clickhouse_is_the_sum_of_request_costs(
    gateway: tuple[Stack, TurnoutConfig],
) -> None:
    stack, config = gateway
    asyncio.run(burst(stack, "best-cheap-chat", 6, feature=f"sum-{RUN}"))
    asyncio.run(burst(stack, "smart-chat", 4, feature=f"sum-{RUN}", stream=True))
    by_usage = (
        "SELECT user, team, feature, logical_model, round(sum(cost_usd), 12) FROM {db}.spend_daily "
        "WHERE tenant = 'acme' GROUP BY user, team, feature, logical_model ORDER BY feature, logical_model"
    )
    by_request = (
        "SELECT user, team, feature, logical_model, round(sum(cost_usd), 12) FROM {db}.requests FINAL "
        "WHERE tenant = 'acme' AND status = 200 GROUP BY user, team, feature, logical_model "
        "ORDER BY feature, logical_model"
    )
    # every one of this test's requests has its row first: before they land, both sides agree on older rows
    landed = f"SELECT count() FROM {{db}}.requests FINAL WHERE feature = 'sum-{RUN}'"
    wait_until(lambda: rows(config, landed) == [[10]], 30, "the 10 requests' rows")
    wait_until(lambda: rows(config, by_usage) == rows(config, by_request), 30, "usage and request rows agree")
    spend = {(f, m): c for _, _, f, m, c in rows(config, by_usage)}
    assert spend[(f"sum-{RUN}", "best-cheap-chat")] > 0 and spend[(f"sum-{RUN}", "smart-chat")] > 0
    # the ledger's spend for the team's budget, as every worker sees it, is ClickHouse's sum (each
    # usage event is counted in whole nano-USD: at most half of one off per event)
    caller = Caller("acme", "platform", "demo-user", "paid", "demo")
    (slot,) = budgets_for(config.budgets, caller, "smart-chat", time.time(), config.kafka.topic_prefix)
    team_sql = "SELECT count(), sum(cost_usd) FROM {db}.usage FINAL WHERE tenant = 'acme' AND team = 'platform'"
    client = redis.Redis.from_url(REDIS)

    def ledger_agrees() -> bool:
        events, total_usd = rows(config, team_sql)[0]
        ledger_nano = sum(int(v) for v in client.hvals(f"{slot.key}:spent"))  # type: ignore[union-attr]
        return abs(ledger_nano - to_nano(total_usd)) <= events

    try:
        wait_until(ledger_agrees, 30, "the ledger and ClickHouse agree")
    finally:
        client.close()


def test_the_ledger_survives_a_restart_of_both_workers_and_of_redis_state(
    gateway: tuple[Stack, TurnoutConfig],
) -> None:
    stack, config = gateway
    caller = Caller("acme", "platform", "demo-user", "paid", "demo")
    slots = budgets_for(config.budgets, caller, "dgb-chat", time.time(), config.kafka.topic_prefix)
    (slot,) = [s for s in slots if s.rule.name == f"dg-{RUN}"]
    client = redis.Redis.from_url(REDIS)
    try:
        spent_before = sum(int(v) for v in client.hvals(f"{slot.key}:spent"))  # type: ignore[union-attr]
        assert spent_before == to_nano(2 * CALL_USD)  # two gpt-4o calls; the downgraded ones are another model's
        for name in ("worker-0", "worker-1"):
            stack.kill(name)
        client.delete(f"{slot.key}:spent")  # Redis lost it too: only the changelog has it now
        stack.start_worker(0)
        stack.start_worker(1)

        def restored() -> bool:
            return sum(int(v) for v in client.hvals(f"{slot.key}:spent")) == spent_before  # type: ignore[union-attr]

        wait_until(restored, 60, "the ledger's spend back in Redis")
    finally:
        client.close()
    # and it is what admission reads: 2/3 of the budget is spent, so the cheaper model serves
    (reply,) = asyncio.run(burst(stack, "dgb-chat", 1, max_tokens=5))
    assert reply.status_code == 200, reply.text[:200]
    assert reply.json()["choices"][0]["message"]["content"].startswith("Simulated reply from gpt-4o-mini")
