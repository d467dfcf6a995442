"""The Faust agents against the real broker: both layouts, the stage events, the dead-letter topic."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from schemas.config import TurnoutConfig
from schemas.events import (
    Caller,
    ChatMessage,
    ChatRequest,
    ChunkEvent,
    DeadLetter,
    ReplyEvent,
    RequestRecord,
    StageEvent,
    UsageEvent,
)
from streams.topics import STAGE_ORDER, TopicNames
from tests.conftest import free_port
from tests.integration.kafka_io import produce, read_until
from turnout.client import TurnoutClient
from turnout.controls import set_kill_switch
from turnout.stack import Stack

CALLER = Caller(tenant="acme", team="platform", user="u1", tier="paid", key_id="demo", feature="tests")


def chat(text: str, *, model: str = "smart-chat", stream: bool = False) -> ChatRequest:
    return ChatRequest(model=model, messages=[ChatMessage(role="user", content=text)], stream=stream)


@pytest.fixture(scope="module", params=["split", "fused", "split/agent"])
def workers(request: pytest.FixtureRequest, make_config: Any) -> Iterator[tuple[str, TurnoutConfig]]:
    """A worker per layout; ``split/agent`` hands each stage its messages through faust's agents
    instead of the lanes (``topology.delivery``)."""
    layout, _, delivery = request.param.partition("/")
    path, config = make_config(topology={"layout": layout, "delivery": delivery or "lane", "web_port": free_port()})
    with Stack(
        path, config, workers=1, gateway=False, sink=False, log_dir=path.parent / "logs", delete_topics_on_stop=True
    ) as stack:
        stack.wait_ready()
        yield layout, config
        assert stack.all_alive(), "a worker died during the tests"


@pytest.fixture
async def client(workers: tuple[str, TurnoutConfig]) -> AsyncIterator[TurnoutClient]:
    _, config = workers
    async with TurnoutClient(config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix)) as c:
        yield c


async def test_a_request_flows_through_every_stage(workers: tuple[str, TurnoutConfig], client: TurnoutClient) -> None:
    layout, config = workers
    event = client.new_request(chat("hello agents"), CALLER, timeout_s=30)
    reply = await (await client.submit(event)).reply()
    assert reply.error is None, reply.error
    assert reply.response is not None
    assert reply.response.content == "Simulated reply from gpt-4o: hello agents"
    assert reply.deployment == "sim-gpt-4o"
    assert reply.response.usage.completion_tokens == 6

    topics = TopicNames(config.kafka.topic_prefix)
    seen = read_until(
        config.kafka.bootstrap,
        [topics.records, topics.usage],
        lambda evs: sum(getattr(e, "request_id", None) == event.request_id for e in evs) >= 2,
    )
    record = next(e for e in seen if isinstance(e, RequestRecord) and e.request_id == event.request_id)
    usage = next(e for e in seen if isinstance(e, UsageEvent) and e.request_id == event.request_id)
    assert record.status == 200 and record.caller == CALLER and record.deployment == "sim-gpt-4o"
    assert record.cost_usd == pytest.approx(usage.cost_usd) and usage.cost_usd > 0
    assert [a.ok for a in record.attempts] == [True]

    if layout == "split":  # each stage wrote its own event on its own topic
        stage_topics = [topics.stage_output(s) for s in STAGE_ORDER[:-1]]
        events = read_until(
            config.kafka.bootstrap,
            stage_topics,
            lambda evs: (
                len({e.stage for e in evs if isinstance(e, StageEvent) and e.envelope.request_id == event.request_id})
                == 4
            ),
        )
        by_stage = {
            e.stage: e for e in events if isinstance(e, StageEvent) and e.envelope.request_id == event.request_id
        }
        assert by_stage["input_guard"].input_guard is not None and by_stage["input_guard"].route is None
        assert by_stage["cache"].cache is not None and by_stage["cache"].cache.status == "skip"
        assert by_stage["route"].route is not None and by_stage["route"].route.deployment == "sim-gpt-4o"
        assert by_stage["invoke"].response is not None
        assert [t.stage for t in by_stage["invoke"].timings] == ["input_guard", "cache", "route", "invoke"]


async def test_a_stream_arrives_as_chunks_then_one_reply(client: TurnoutClient) -> None:
    replies = await client.submit(client.new_request(chat("one two three four five", stream=True), CALLER))
    events = [e async for e in replies]
    chunks = [e for e in events if isinstance(e, ChunkEvent)]
    assert isinstance(events[-1], ReplyEvent) and events[-1].response is not None
    assert chunks, "a stream sends chunk events"
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert "".join(c.content for c in chunks) == events[-1].response.content
    assert events[-1].chunks_sent == len(chunks)
    assert events[-1].response.usage.prompt_tokens > 0


async def test_unknown_model_is_answered_with_404(client: TurnoutClient) -> None:
    reply = await client.complete(chat("hi", model="no-such-model"), CALLER)
    assert reply.error is not None and reply.error.status == 404 and reply.error.code == "model_not_found"


async def test_a_kill_switch_from_the_control_topic_refuses_and_is_counted(
    workers: tuple[str, TurnoutConfig], client: TurnoutClient
) -> None:
    _, config = workers
    caller = replace(CALLER, feature=f"kill-{config.kafka.topic_prefix}")
    set_kill_switch(config.kafka, "feature", f"acme/{caller.feature}", killed=True, reason="test")
    metrics_url = f"http://127.0.0.1:{config.topology.web_port}/metrics"

    async def refused() -> bool:
        reply = await client.complete(chat("stop"), caller, timeout_s=10)
        return reply.error is not None and reply.error.code == "kill_switch"

    deadline = time.monotonic() + 10
    while not await refused():
        assert time.monotonic() < deadline, "the kill switch never took effect"
    page = httpx.get(metrics_url, timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert 'turnout_admission_refused_total{reason="kill_switch"} 1' in page.text.splitlines()
    set_kill_switch(config.kafka, "feature", f"acme/{caller.feature}", killed=False)
    deadline = time.monotonic() + 10
    while (await client.complete(chat("go"), caller, timeout_s=10)).error is not None:
        assert time.monotonic() < deadline, "the kill switch was never lifted"


async def test_the_worker_answers_its_liveness_and_readiness_checks(workers: tuple[str, TurnoutConfig]) -> None:
    """A running worker that has joined its group: live, ready, its partitions assigned, its
    consumer's fetch loop coming back (it has fetched since the test began)."""
    _, config = workers
    base = f"http://127.0.0.1:{config.topology.web_port}"
    first = httpx.get(f"{base}/healthz", timeout=5)
    assert first.status_code == 200, first.text
    ready = httpx.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["live"] and body["ready"] and body["problems"] == [] and not body["rebalancing"]
    assert body["coordinator_known"] is True
    assert body["partitions"] >= config.kafka.partitions  # one worker: every partition of its topics
    assert 0 <= body["fetch_age_s"] < 5


async def test_undecodable_messages_go_to_the_dead_letter_topic(
    workers: tuple[str, TurnoutConfig], client: TurnoutClient
) -> None:
    layout, config = workers
    topics = TopicNames(config.kafka.topic_prefix)
    targets = [topics.requests] + ([topics.stage_output("cache")] if layout == "split" else [])
    for topic in targets:
        produce(config.kafka.bootstrap, topic, b"this is not avro", key=b"junk")
    letters = read_until(
        config.kafka.bootstrap,
        [topics.dead_letters],
        lambda evs: {e.topic for e in evs if isinstance(e, DeadLetter)} >= set(targets),
    )
    for letter in (e for e in letters if isinstance(e, DeadLetter)):
        assert letter.value == b"this is not avro" and letter.key == b"junk"
        assert "Avro" in letter.reason
    # a wrong-but-valid event type on the requests topic is dead-lettered too
    produce(
        config.kafka.bootstrap, topics.requests, client._codec.encode(ReplyEvent(request_id="x", logical_model="m"))
    )
    read_until(
        config.kafka.bootstrap,
        [topics.dead_letters],
        lambda evs: any(isinstance(e, DeadLetter) and "expected RequestEvent" in e.reason for e in evs),
    )
    # and the agents keep going
    reply = await client.complete(chat("still alive?"), CALLER)
    assert reply.response is not None and reply.response.content.endswith("still alive?")
