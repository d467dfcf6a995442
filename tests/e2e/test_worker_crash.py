"""A worker killed mid-run and restarted: every request is answered (a reply or a clear error)
before its deadline, and no request row is duplicated in ClickHouse."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

from schemas.events import Caller, ChatMessage, ChatRequest
from streams.topics import TopicNames
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.client import TurnoutClient
from turnout.stack import wait_until

CALLER = Caller(tenant="acme", team="platform", user="batch", tier="paid", key_id="demo")
REQUESTS = 300
TIMEOUT_S = 45.0


async def test_killing_a_worker_loses_and_duplicates_nothing(make_config: Any) -> None:
    with running_stack(make_config, workers=2, topology={"layout": "split"}) as (stack, config):
        async with TurnoutClient(
            config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix), max_in_flight=40
        ) as client:
            answered: list[tuple[str, int, float]] = []
            started = time.monotonic()

            async def one(i: int) -> None:
                request = ChatRequest(model="slow-chat", messages=[ChatMessage(role="user", content=f"job {i}")])
                event = client.new_request(request, CALLER, timeout_s=TIMEOUT_S)
                sent = time.monotonic()
                reply = await (await client.submit(event)).reply()
                status = 200 if reply.error is None else reply.error.status
                answered.append((event.request_id, status, time.monotonic() - sent))

            tasks = [asyncio.create_task(one(i)) for i in range(REQUESTS)]
            await _until(lambda: len(answered) >= REQUESTS // 4, 60)
            stack.kill("worker-0", signal.SIGKILL)  # no goodbye: no commit, no leave-group
            killed_at = len(answered)
            await _until(lambda: len(answered) >= killed_at + 20, 60)
            stack.start_worker(0)
            await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT_S + 30)

    # the stack is stopped here: the sink flushed what it had; read the rows straight from chDB
    elapsed = time.monotonic() - started
    ids = [rid for rid, _, _ in answered]
    assert len(set(ids)) == REQUESTS, "every request got exactly one answer"
    assert max(wait for _, _, wait in answered) <= TIMEOUT_S + 2, "no request waited past its deadline"
    statuses = [status for _, status, _ in answered]
    assert set(statuses) <= {200, 504}, f"unexpected statuses {set(statuses)}"
    assert statuses.count(200) >= REQUESTS * 0.9, f"only {statuses.count(200)} of {REQUESTS} succeeded"
    id_list = ",".join(f"'{i}'" for i in ids)
    db = config.clickhouse.database
    result = run_sql(
        config, f"SELECT count(), uniqExact(request_id) FROM {db}.requests FINAL WHERE request_id IN ({id_list})"
    )
    assert result.rows[0] == [REQUESTS, REQUESTS], f"rows in ClickHouse: {result.rows[0]} after {elapsed:.1f} s"
    print(
        f"worker killed: {REQUESTS} sent, {statuses.count(200)} answered 200, {statuses.count(504)} answered 504, "
        f"0 lost, 0 duplicated rows, slowest {max(wait for _, _, wait in answered):.1f} s"
    )


async def _until(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_batch_through_the_kafka_native_client(make_config: Any) -> None:
    """A batch job of a thousand requests through the Kafka client, with bounded requests in flight."""

    async def batch(config: Any) -> list[Any]:
        async with TurnoutClient(
            config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix), max_in_flight=100
        ) as client:

            async def one(i: int) -> Any:
                request = ChatRequest(
                    model="best-cheap-chat", messages=[ChatMessage(role="user", content=f"classify item {i}")]
                )
                return await client.complete(request, CALLER, timeout_s=60, metadata={"batch": "b1"})

            return await asyncio.gather(*(one(i) for i in range(1000)))

    with running_stack(make_config, workers=2, topology={"layout": "fused"}) as (_, config):
        replies = asyncio.run(batch(config))
        assert [r.error for r in replies if r.error is not None] == []
        assert all(r.response.content.endswith(f"classify item {i}") for i, r in enumerate(replies))
        db = config.clickhouse.database
        count_sql = f"SELECT count() FROM {db}.requests FINAL WHERE user = 'batch' AND source = 'kafka'"
        wait_until(lambda: run_sql(config, count_sql).rows[0][0] == 1000, 60, "batch rows", 0.2)
