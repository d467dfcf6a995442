"""turnout replay, dry: a recorded window through a cheaper routing policy; the cost change it
reports is the one this test computes itself from the rows, and the same run gives the same report."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.config import TurnoutConfig, load_config
from schemas.errors import TurnoutError
from schemas.events import Caller, ChatMessage, ChatRequest, Usage
from streams.routing.classifier import ComplexityModel
from streams.stages.cost import cost_usd
from streams.topics import TopicNames
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.client import TurnoutClient
from turnout.replay import render, replay
from turnout.stack import Stack, wait_until

CALLER = Caller(tenant="acme", team="platform", user="replayer", tier="paid", key_id="demo")
SIMPLE = ["What's the capital of {}?", "Translate 'thank you' into {}.", "Say hello to {}."]
COMPLEX = [
    "Prove step by step that the sum of the first n odd numbers is n squared, then generalise it to {}.",
    "Design a fault-tolerant job scheduler for {} and compare leader election with a lease-based "
    "approach, with the trade-offs of each.",
]
PLACES = ["Portugal", "Spanish", "Kenya", "Japanese", "Chile", "Norway", "Italian", "Peru", "Ghana", "Korean"]


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    with running_stack(make_config, workers=1) as run:
        yield run


def prompts(n: int) -> list[str]:
    kinds = [*SIMPLE, *COMPLEX]
    return [kinds[i % len(kinds)].format(PLACES[i % len(PLACES)]) for i in range(n)]


async def record(config: TurnoutConfig, texts: list[str]) -> dict[str, str]:
    """Send each prompt to smart-chat (no routing): request id -> prompt."""
    async with TurnoutClient(config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix), max_in_flight=50) as client:

        async def one(text: str) -> tuple[str, str]:
            event = client.new_request(ChatRequest(model="smart-chat", messages=[ChatMessage("user", text)]), CALLER)
            reply = await (await client.submit(event)).reply()
            assert reply.error is None, reply.error
            return event.request_id, text

        return dict(await asyncio.gather(*(one(t) for t in texts)))


def candidate_file(config_path: Path, out: Path) -> tuple[TurnoutConfig, str]:
    data = yaml.safe_load(config_path.read_text())
    data["models"]["smart-chat"]["routing"] = {"simple": "best-cheap-chat"}
    out.write_text(yaml.safe_dump(data))
    return load_config(out), out.read_text()


def test_a_recorded_window_replayed_dry_through_a_cheaper_policy(
    gateway: tuple[Stack, TurnoutConfig], tmp_path: Path
) -> None:
    stack, config = gateway
    since_ms = int(time.time() * 1000) - 1000
    sent = asyncio.run(record(config, prompts(250)))
    until_ms = int(time.time() * 1000) + 1000
    db = config.clickhouse.database
    ids = ",".join(f"'{i}'" for i in sent)
    rows_sql = (
        f"SELECT request_id, prompt_tokens, completion_tokens, cost_usd, deployment FROM {db}.requests FINAL "
        f"WHERE request_id IN ({ids})"
    )
    wait_until(lambda: len(run_sql(config, rows_sql).rows) == len(sent), 60, "the recorded rows")
    candidate, text = candidate_file(Path(stack.config_path), tmp_path / "candidate.yaml")

    report = replay(config, candidate, text, since_ms, until_ms, progress=False)

    # the expected figures, from the rows and the classifier, without the replay's code
    model = ComplexityModel.load()
    before = after = 0.0
    changed = 0
    for request_id, prompt_tokens, completion_tokens, cost, deployment in run_sql(config, rows_sql).rows:
        assert deployment == "sim-gpt-4o"
        decision = model.decide_request(
            ChatRequest(model="smart-chat", messages=[ChatMessage("user", sent[request_id])])
        )
        target = "sim-gpt-4o" if decision.complex else "sim-gpt-4o-mini"
        changed += target != deployment
        before += cost
        after += cost_usd(Usage(prompt_tokens, completion_tokens), candidate.deployments[target])
    assert report.replayed == len(sent) and report.without_outcome == 0
    assert report.changed == changed and 0 < changed < len(sent)
    assert report.cost_before_usd == pytest.approx(before) and report.cost_after_usd == pytest.approx(after)
    assert report.cost_after_usd < report.cost_before_usd
    assert report.model_mix_before == {"sim-gpt-4o": len(sent)}
    assert report.model_mix_after == {"sim-gpt-4o": len(sent) - changed, "sim-gpt-4o-mini": changed}
    # the decisions are in ClickHouse next to the originals; the same window and policy, the same report
    decisions = (
        f"SELECT count(), sum(changed), sum(cost_after_usd) FROM {db}.replay_decisions FINAL "
        f"WHERE run_id = '{report.run_id}'"
    )
    wait_until(lambda: run_sql(config, decisions).rows[0][0] == len(sent), 60, "the replay decisions")
    count, changed_rows, after_rows = run_sql(config, decisions).rows[0]
    assert (count, changed_rows) == (len(sent), changed) and after_rows == pytest.approx(after)
    again = replay(config, candidate, text, since_ms, until_ms, progress=False)
    assert again.to_dict() == report.to_dict()


def test_live_shadow_sends_only_the_changed_requests_and_keeps_both_answers(
    gateway: tuple[Stack, TurnoutConfig], tmp_path: Path
) -> None:
    stack, config = gateway
    since_ms = int(time.time() * 1000)
    sent = asyncio.run(record(config, prompts(30)))
    until_ms = int(time.time() * 1000) + 1000
    db = config.clickhouse.database
    ids = ",".join(f"'{i}'" for i in sent)
    wait_until(
        lambda: (
            run_sql(config, f"SELECT count() FROM {db}.requests FINAL WHERE request_id IN ({ids})").rows[0][0]
            == len(sent)
        ),
        60,
        "the recorded rows",
    )
    candidate, text = candidate_file(Path(stack.config_path), tmp_path / "candidate.yaml")

    def mini_calls() -> int:
        stats = httpx.get(f"{stack.simulator_url}/_sim/stats", timeout=10).json()["models"]
        return int(stats.get("gpt-4o-mini", {}).get("total", 0))

    usage_before = run_sql(config, f"SELECT count() FROM {db}.usage FINAL").rows[0][0]
    calls_before = mini_calls()
    report = replay(config, candidate, text, since_ms, until_ms, progress=False, shadow=True, rate_per_s=50)
    assert report.shadow is not None and 0 < report.changed < len(sent)
    assert report.shadow["sent"] == report.shadow["answered"] == report.changed
    assert report.shadow["with_original"] == report.changed  # read back from the client's reply topic
    assert mini_calls() - calls_before == report.changed  # only the changed requests were sent
    rows_sql = (
        f"SELECT request_id, original_deployment, candidate_deployment, original_answer, candidate_answer, "
        f"similarity, status FROM {db}.shadow_answers FINAL WHERE run_id = '{report.run_id}'"
    )
    wait_until(lambda: len(run_sql(config, rows_sql).rows) == report.changed, 60, "the shadow answers")
    for request_id, original, target, before, after, similarity, status in run_sql(config, rows_sql).rows:
        prompt = sent[request_id]
        assert (original, target, status) == ("sim-gpt-4o", "sim-gpt-4o-mini", 200)
        assert (before, after) == (
            f"Simulated reply from gpt-4o: {prompt}",
            f"Simulated reply from gpt-4o-mini: {prompt}",
        )
        assert 0.5 < similarity <= 1.0
    # nothing was charged: the shadow's usage never reached the usage topic
    assert run_sql(config, f"SELECT count() FROM {db}.usage FINAL").rows[0][0] == usage_before


def test_a_candidates_cache_and_guardrails_replayed_dry(gateway: tuple[Stack, TurnoutConfig], tmp_path: Path) -> None:
    stack, config = gateway
    run = time.time_ns()
    distinct = [f"Question {i} about the fleet, run {run}" for i in range(10)]
    distinct += [f"What is project kestrel, run {run}?", f"Status of Kestrel {run}"]
    texts = distinct + distinct[:3] + distinct[10:11]  # three repeats, and one of a text the candidate blocks
    since_ms = int(time.time() * 1000)
    sent = asyncio.run(record(config, texts))
    until_ms = int(time.time() * 1000) + 1000
    db = config.clickhouse.database
    ids = ",".join(f"'{i}'" for i in sent)
    rows_sql = f"SELECT request_id, cost_usd, total_us FROM {db}.requests FINAL WHERE request_id IN ({ids})"
    wait_until(lambda: len(run_sql(config, rows_sql).rows) == len(sent), 60, "the recorded rows")
    data = yaml.safe_load(Path(stack.config_path).read_text())
    data["models"]["smart-chat"]["cache"] = {"mode": "exact", "ttl_s": 600}
    data["models"]["smart-chat"]["guardrails"] = {"banned": {"action": "block", "keywords": ["kestrel"]}}
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(data))

    report = replay(config, load_config(path), path.read_text(), since_ms, until_ms, progress=False)

    # what the test expects, from the texts and the rows: the routes did not change (same deployment)
    cost = {request_id: float(c) for request_id, c, _ in run_sql(config, rows_sql).rows}
    blocked = [i for i, t in sent.items() if "kestrel" in t.lower()]
    by_text: dict[str, list[str]] = {}
    for request_id, text in sent.items():
        if request_id not in blocked:
            by_text.setdefault(text, []).append(request_id)
    repeats = {t: ids[1:] for t, ids in by_text.items() if len(ids) > 1}
    hits = [i for ids in repeats.values() for i in ids]
    assert report.replayed == len(sent) and report.changed == 0
    assert report.blocked_after == len(blocked) == 3
    assert report.cost_after_routing_usd == pytest.approx(sum(cost.values()))
    assert report.cache is not None and report.cache["exact_hits"] == len(hits) == 3
    assert report.cache["lookups"] == len(sent) - len(blocked)
    # the repeats cost what their first asking did: saved, whichever of the pair was asked first
    assert report.cache["saved_usd"] == pytest.approx(sum(cost[i] for i in hits))
    paid = [i for i in sent if i not in blocked and i not in hits]
    assert report.cost_after_usd == pytest.approx(sum(cost[i] for i in paid))
    assert report.guardrails["changed"] == 3 and report.guardrails["after"]["block: banned"] == 3
    # latency and errors where known: the window's own rows and attempts
    latencies = sorted(int(t) / 1000 for _, _, t in run_sql(config, rows_sql).rows)
    assert report.recorded["requests"] == len(sent) and report.recorded["errors"] == 0
    assert report.recorded["latency_p50_ms"] == pytest.approx(latencies[len(latencies) // 2], abs=0.1)
    assert report.deployments["sim-gpt-4o"]["source"] == "window"
    assert report.deployments["sim-gpt-4o"]["attempts"] >= len(sent)
    assert report.expected["before"]["unknown"] == 0 and report.expected["before"]["error_rate"] == 0.0
    assert "candidate cache     3 exact" in render(report)
    again = replay(config, load_config(path), path.read_text(), since_ms, until_ms, progress=False)
    assert again.to_dict() == report.to_dict()


def test_after_the_topics_retention_the_window_is_replayed_from_clickhouse(
    gateway: tuple[Stack, TurnoutConfig], tmp_path: Path
) -> None:
    """Routing by tier needs no request text: the ClickHouse rows alone give the same decisions and
    costs as the topic, and ``auto`` takes them once the topic has dropped the window's start."""
    stack, config = gateway
    since_ms = int(time.time() * 1000)
    sent = asyncio.run(record(config, prompts(40)))
    until_ms = int(time.time() * 1000) + 1000
    db = config.clickhouse.database
    ids = ",".join(f"'{i}'" for i in sent)
    count_sql = f"SELECT count() FROM {db}.requests FINAL WHERE request_id IN ({ids})"
    wait_until(lambda: run_sql(config, count_sql).rows[0][0] == len(sent), 60, "the recorded rows")
    data = yaml.safe_load(Path(stack.config_path).read_text())
    data["models"]["smart-chat"]["routing"] = {"tiers": {"paid": "best-cheap-chat"}}  # CALLER is paid
    path = tmp_path / "by-tier.yaml"
    path.write_text(yaml.safe_dump(data))
    candidate, text = load_config(path), path.read_text()

    from_topic = replay(config, candidate, text, since_ms, until_ms, progress=False, source="auto")
    from_rows = replay(config, candidate, text, since_ms, until_ms, progress=False, source="clickhouse")
    assert (from_topic.source, from_rows.source) == ("topic", "clickhouse")
    assert from_rows.replayed == from_topic.replayed == from_rows.changed == len(sent)
    for figure in ("cost_before_usd", "cost_after_usd", "model_mix_before", "model_mix_after", "changed_decisions"):
        assert getattr(from_rows, figure) == getattr(from_topic, figure), figure
    assert from_rows.model_mix_after == {"sim-gpt-4o-mini": len(sent)}
    assert from_rows.guardrails == {"skipped": "no request text"} and from_rows.cache is None

    # the same window by offsets: from the first offset at its start to the end it has now
    topic = TopicNames(config.kafka.topic_prefix).requests
    consumer = Consumer({"bootstrap.servers": config.kafka.bootstrap, "group.id": "replay-test"})
    try:
        partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        starts = consumer.offsets_for_times([TopicPartition(topic, p, since_ms) for p in partitions], timeout=10)
        spans = {
            tp.partition: (tp.offset, consumer.get_watermark_offsets(TopicPartition(topic, tp.partition))[1])
            for tp in starts
            if tp.offset >= 0
        }
    finally:
        consumer.close()
    by_offsets = replay(config, candidate, text, 0, 0, progress=False, offsets=spans)
    for figure in ("replayed", "changed", "cost_before_usd", "cost_after_usd", "model_mix_after", "changed_decisions"):
        assert getattr(by_offsets, figure) == getattr(from_topic, figure), figure
    assert by_offsets.run_id != from_topic.run_id

    # what ClickHouse cannot answer is refused, not guessed
    data["models"]["smart-chat"]["routing"] = {"simple": "best-cheap-chat"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TurnoutError, match="complexity"):
        replay(config, load_config(path), path.read_text(), since_ms, until_ms, progress=False, source="clickhouse")

    # the topic drops everything so far, as retention would: auto now reads the rows, and the
    # offsets are refused
    admin = AdminClient({"bootstrap.servers": config.kafka.bootstrap})
    consumer = Consumer({"bootstrap.servers": config.kafka.bootstrap, "group.id": "replay-test"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = [
            TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p))[1]) for p in partitions
        ]
    finally:
        consumer.close()
    for future in admin.delete_records(ends).values():
        future.result(timeout=30)
    asyncio.run(record(config, ["after the retention"]))  # the topic holds something newer than the window
    after = replay(config, candidate, text, since_ms, until_ms, progress=False, source="auto")
    assert after.source == "clickhouse" and after.to_dict() == from_rows.to_dict()
    with pytest.raises(TurnoutError, match="retention"):
        replay(config, candidate, text, 0, 0, progress=False, offsets=spans)
