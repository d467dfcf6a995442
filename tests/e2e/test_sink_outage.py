"""The sink killed mid-load (SIGKILL: no drain, no commit) and started again a while later: the
gateway answers every request meanwhile, and afterwards ClickHouse has exactly one row per request,
with its usage, however the batches were cut before and after."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import httpx

from schemas.events import Caller, ChatMessage, ChatRequest
from streams.topics import TopicNames
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.client import TurnoutClient
from turnout.stack import wait_until

CALLER = Caller(tenant="acme", team="platform", user="batch", tier="paid", key_id="demo")
REQUESTS = 240


async def test_the_sink_catches_up_after_an_outage_with_exact_counts(make_config: Any) -> None:
    with running_stack(make_config, workers=2, sink={"batch_rows": 50, "batch_ms": 200}) as (stack, config):
        db = config.clickhouse.database
        async with TurnoutClient(
            config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix), max_in_flight=20
        ) as client:
            answered: list[tuple[str, int]] = []

            async def one(i: int) -> None:
                request = ChatRequest(model="smart-chat", messages=[ChatMessage(role="user", content=f"row {i}")])
                reply = await client.complete(request, CALLER, timeout_s=30)
                answered.append((reply.request_id, 200 if reply.error is None else reply.error.status))

            tasks = [asyncio.create_task(one(i)) for i in range(REQUESTS)]
            a_third = asyncio.Event()
            for task in tasks:  # the sink goes down once a third of the requests are answered
                task.add_done_callback(lambda _: a_third.set() if len(answered) >= REQUESTS // 3 else None)
            await asyncio.wait_for(a_third.wait(), 60)
            stack.kill("sink", signal.SIGKILL)
            killed_at = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*tasks), 90)
            down_s = time.monotonic() - killed_at
        assert sorted(status for _, status in answered) == [200] * REQUESTS  # served while the sink was down
        stack.start_sink()
        wait_until(lambda: httpx.get(stack.sink_url, timeout=2).status_code == 200, 60, "the sink again")
        ids = {request_id for request_id, _ in answered}

        def landed(table: str) -> int:
            return int(run_sql(config, f"SELECT count() FROM {db}.{table} FINAL").rows[0][0])

        wait_until(lambda: landed("requests") >= REQUESTS and landed("usage") >= REQUESTS, 60, "every row")
        rows = run_sql(config, f"SELECT request_id FROM {db}.requests FINAL").rows
        assert sorted(r[0] for r in rows) == sorted(ids)  # each once, none missing, none foreign
        usage = run_sql(config, f"SELECT count(), uniqExact(request_id) FROM {db}.usage FINAL").rows[0]
        assert usage == [REQUESTS, REQUESTS]
        print(f"sink down {down_s:.1f} s while {REQUESTS - REQUESTS // 3} requests were answered; all landed once")
