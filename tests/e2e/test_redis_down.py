"""Redis unreachable for the whole run: every route answers as its config says (fail open, with the
row saying so, or 503 fail closed), the cache is a miss, and nothing hangs. Counts are asserted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from schemas.config import TurnoutConfig
from schemas.events import Caller, ChatMessage, ChatRequest
from streams.topics import TopicNames
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.client import TurnoutClient
from turnout.stack import Stack, wait_until

CALLER = Caller(tenant="acme", team="platform", user="r", tier="paid", key_id="demo")
PER_ROUTE = 40


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    models = {
        "open-chat": {"deployments": ["sim-gpt-4o-mini"], "on_limit": {"redis_down": "open"}},
        "closed-chat": {"deployments": ["sim-gpt-4o-mini"], "on_limit": {"redis_down": "closed"}},
        "cached-chat": {"deployments": ["sim-gpt-4o-mini"], "cache": {"mode": "exact"}},
    }
    limits = [{"name": "rpm", "scope": "user", "requests": 10_000, "window_s": 60}]
    with running_stack(
        make_config, workers=1, models=models, limits_list=limits, redis={"url": "redis://127.0.0.1:9/0"}
    ) as run:
        yield run


async def _send(config: TurnoutConfig, model: str, n: int) -> list[tuple[str, int, float]]:
    async with TurnoutClient(config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix), max_in_flight=20) as client:

        async def one(i: int) -> tuple[str, int, float]:
            started = time.monotonic()
            request = ChatRequest(model=model, messages=[ChatMessage("user", f"same question {i % 5}")], temperature=0)
            reply = await client.complete(request, CALLER, timeout_s=20)
            return reply.request_id, 200 if reply.error is None else reply.error.status, time.monotonic() - started

        return await asyncio.gather(*(one(i) for i in range(n)))


def test_each_route_answers_as_configured_when_redis_is_down(gateway: tuple[Stack, TurnoutConfig]) -> None:
    _, config = gateway
    results = {
        model: asyncio.run(_send(config, model, PER_ROUTE)) for model in ("open-chat", "closed-chat", "cached-chat")
    }
    statuses = {model: sorted({s for _, s, _ in rows}) for model, rows in results.items()}
    assert statuses == {"open-chat": [200], "closed-chat": [503], "cached-chat": [200]}
    slowest = max(t for rows in results.values() for _, _, t in rows)
    assert slowest < 20  # an answer each, before its deadline
    db = config.clickhouse.database
    total = 3 * PER_ROUTE
    wait_until(lambda: run_sql(config, f"SELECT count() FROM {db}.requests FINAL").rows[0][0] >= total, 60, "rows")
    rows = run_sql(
        config,
        f"SELECT logical_model, limit_action, cache_status, count() FROM {db}.requests FINAL "
        "GROUP BY logical_model, limit_action, cache_status ORDER BY logical_model",
    ).rows
    by_model = {r[0]: (r[1], r[2], r[3]) for r in rows}
    assert by_model["open-chat"] == ("fail_open", "skip", PER_ROUTE)
    assert by_model["closed-chat"][2] == PER_ROUTE
    assert by_model["cached-chat"] == ("fail_open", "miss", PER_ROUTE)  # repeats, but no cache without Redis
    print(f"redis down: {total} requests, {2 * PER_ROUTE} answered (fail open), {PER_ROUTE} refused 503, 0 lost")
