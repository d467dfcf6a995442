"""The limiter's Redis script against the real Redis: exact under concurrency, fail open or closed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from schemas.config import TurnoutConfig, parse_config
from schemas.errors import ServiceUnavailable
from schemas.events import Caller, ChatMessage, ChatRequest, RequestEvent
from streams.limiter import Limiter
from streams.metrics import Metrics
from streams.pipeline import Parked, Pipeline, entering
from streams.stages.answer import Answer
from tests.conftest import REDIS

CALLER = Caller(tenant="acme", team="t", user="u", tier="free", key_id="k")


def config(redis_down: str = "open") -> TurnoutConfig:
    return parse_config(
        {
            "providers": {"p": {"base_url": "http://127.0.0.1:9/v1"}},
            "deployments": {"d": {"provider": "p", "model": "m"}},
            "models": {"m": {"deployments": ["d"], "on_limit": {"redis_down": redis_down}}},
            "limits": [{"name": "rpm", "scope": "user", "requests": 20, "tokens": 10_000, "window_s": 60}],
            "keys": [{"id": "k", "key_sha256": "0" * 64, "tenant": "acme", "team": "t", "user": "u"}],
        }
    )


def chat(max_tokens: int = 100) -> ChatRequest:
    return ChatRequest(model="m", messages=[ChatMessage(role="user", content="hi")], max_tokens=max_tokens)


async def test_exactly_the_limit_is_admitted_under_concurrency() -> None:
    client = aioredis.from_url(REDIS)
    try:
        limiter = Limiter(config(), client, f"t{uuid.uuid4().hex[:8]}")
        results = await asyncio.gather(*(limiter.admit(CALLER, chat(), f"r{i}") for i in range(100)))
        assert sum(a.admitted for a in results) == 20
        refused = next(a for a in results if not a.admitted)
        assert refused.limited_by is not None and refused.limited_by.kind == "requests"
        assert 0 < refused.retry_after_s(refused.limited_by.window_ends_at_s - 5) <= 5
    finally:
        await client.aclose()


async def test_token_counters_settle_to_the_real_usage() -> None:
    client = aioredis.from_url(REDIS)
    try:
        limiter = Limiter(config(), client, f"t{uuid.uuid4().hex[:8]}")
        admitted = await limiter.admit(CALLER, chat(max_tokens=4995), "r1")  # estimate 1 + 4 + 4995
        assert admitted.admitted and admitted.estimated_tokens == 5000
        (key,) = admitted.token_keys
        await limiter.settle(admitted.token_keys, admitted.estimated_tokens, 30)
        assert int(await client.get(key)) == 30
        # after settling, the room the estimate held is free again
        assert (await limiter.admit(CALLER, chat(max_tokens=9965), "r2")).admitted
    finally:
        await client.aclose()


async def test_a_replayed_request_gets_its_first_answer_and_is_not_charged_again() -> None:
    client = aioredis.from_url(REDIS)
    try:
        limiter = Limiter(config(), client, f"t{uuid.uuid4().hex[:8]}")
        first = [await limiter.admit(CALLER, chat(), f"r{i}") for i in range(20)]
        assert all(a.admitted for a in first)
        replayed = await limiter.admit(CALLER, chat(), "r3")  # the window is full, but r3 was admitted
        assert replayed.admitted
        refused = await limiter.admit(CALLER, chat(), "r21")
        assert not refused.admitted and not (await limiter.admit(CALLER, chat(), "r21")).admitted
        # a parked request asks again each time and is charged only once admitted
        assert not (await limiter.admit(CALLER, chat(), "r22", parked=True)).admitted
    finally:
        await client.aclose()


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_unreachable_redis_fails_open_or_closed_as_the_model_says(mode: str) -> None:
    cfg = config(redis_down=mode)
    dead = aioredis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    metrics = Metrics()
    pipeline = Pipeline(cfg, invoker=None, limiter=Limiter(cfg, dead, "t", metrics))  # type: ignore[arg-type]
    event = entering(
        RequestEvent(
            request_id="r",
            reply_to="x",
            source="kafka",
            received_at_us=0,
            deadline_at_us=2**62,
            caller=CALLER,
            request=chat(),
        )
    )
    try:
        if mode == "open":
            admitted = await pipeline._admit(event)
            assert admitted.limit is not None and admitted.limit.action == "fail_open"  # type: ignore[union-attr]
        else:
            with pytest.raises(ServiceUnavailable):
                await pipeline._admit(event)
        assert metrics.value("turnout_redis_unavailable_total", part="limits") == 1
    finally:
        await dead.aclose()


async def test_an_answer_without_a_provider_call_gives_its_tokens_back() -> None:
    """A request admitted with an estimate and then answered without a paid call (a cache hit, an
    error in a later stage, its deadline) frees the tokens its limits counted in advance."""
    client = aioredis.from_url(REDIS)
    try:
        cfg = config()
        limiter = Limiter(cfg, client, f"t{uuid.uuid4().hex[:8]}")
        pipeline = Pipeline(cfg, invoker=None, limiter=limiter)  # type: ignore[arg-type]

        def request(request_id: str, max_tokens: int, deadline_us: int = 2**62) -> RequestEvent:
            return RequestEvent(request_id, "r", "kafka", 0, deadline_us, CALLER, chat(max_tokens))

        admitted = await pipeline._admit(entering(request("r0", 9995)))  # 1 + 4 + 9995: the whole window
        assert not isinstance(admitted, Answer | Parked) and admitted.limit is not None
        (key,) = admitted.limit.token_keys
        assert int(await client.get(key)) == 10_000
        unknown = replace(admitted.envelope, request=replace(chat(9995), model="nope"))
        gone = await pipeline.run_stage("route", replace(admitted, envelope=unknown), None)  # type: ignore[arg-type]
        assert isinstance(gone, Answer) and gone.record.status == 404
        assert int(await client.get(key)) == 0
        late = await pipeline._admit(entering(request("r1", 9995)))
        assert not isinstance(late, Answer | Parked)
        expired = replace(late, envelope=replace(late.envelope, deadline_at_us=1))
        timed_out = await pipeline.run_stage("cache", expired, None)  # type: ignore[arg-type]
        assert isinstance(timed_out, Answer) and timed_out.record.status == 504
        assert int(await client.get(key)) == 0
    finally:
        await client.aclose()
