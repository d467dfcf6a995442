"""The ClickHouse sink on chDB against the real broker: rows, batching, and no duplicates."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import EventCodec
from schemas.config import BudgetRule, TurnoutConfig
from schemas.events import Attempt, AttemptEvent, Caller, RequestRecord, StageTiming, Usage, UsageEvent
from sinks.clickhouse import ClickHouseSink, QueryResult, _Batch, open_clickhouse
from sinks.dashboards import Dashboards, Filters
from sinks.migrate import migrate
from sinks.rows import rows_for
from streams.stages.budgets import period_of
from streams.topics import TopicNames
from streams.tracing import request_span_id
from tests.integration.kafka_io import produce
from turnout.kafka_admin import prepare_topics
from turnout.stack import wait_until

CALLER = Caller(tenant="acme", team="platform", user="u1", tier="paid", key_id="demo", feature="search")


def record(i: int) -> RequestRecord:
    now = int(time.time() * 1e6)
    attempt = Attempt(deployment="sim-gpt-4o", provider="simulator", ok=True, started_at_us=now, latency_us=1500)
    return RequestRecord(
        request_id=f"req-{i}",
        caller=CALLER,
        source="http",
        received_at_us=now,
        finished_at_us=now + 2000,
        logical_model="smart-chat",
        status=200,
        usage=Usage(10, 5, 2, 15),
        total_us=2000,
        deployment="sim-gpt-4o",
        upstream_model="gpt-4o",
        provider="simulator",
        attempts=[attempt],
        cost_usd=0.001,
        upstream_us=1500,
    )


@pytest.fixture
def sink_setup(make_config: Any) -> Iterator[tuple[TurnoutConfig, Any]]:
    _, config = make_config(sink={"batch_rows": 7, "batch_ms": 50})
    prepare_topics(config.kafka)
    client = open_clickhouse(config.clickhouse.dsn, config.clickhouse.database)
    yield config, client
    client.close()


def run_sink(config: TurnoutConfig, client: Any, until: Any) -> ClickHouseSink:
    sink = ClickHouseSink(config, client=client)
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    try:
        wait_until(until, 60, "sink rows")
    finally:
        sink.stop()
        thread.join(15)
    assert not thread.is_alive()
    return sink


def count(client: Any, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def test_records_attempts_and_usage_land_once(sink_setup: tuple[TurnoutConfig, Any]) -> None:
    config, client = sink_setup
    topics, codec, db = TopicNames(config.kafka.topic_prefix), EventCodec(), config.clickhouse.database
    for i in range(20):
        produce(config.kafka.bootstrap, topics.records, codec.encode(record(i)), f"req-{i}".encode())
    produce(config.kafka.bootstrap, topics.records, codec.encode(record(3)), b"req-3")  # a replayed record
    r = record(0)
    produce(
        config.kafka.bootstrap,
        topics.attempts,
        codec.encode(AttemptEvent("req-0", CALLER, "smart-chat", 1, r.attempts[0])),
    )
    produce(
        config.kafka.bootstrap,
        topics.usage,
        codec.encode(
            UsageEvent("req-0", CALLER, r.received_at_us, "smart-chat", "sim-gpt-4o", "gpt-4o", r.usage, 0.001)
        ),
    )
    produce(config.kafka.bootstrap, topics.records, b"garbage")

    sink = run_sink(
        config,
        client,
        lambda: (
            count(client, f"SELECT count() FROM {db}.requests") >= 21
            and count(client, f"SELECT count() FROM {db}.usage") == 1
        ),
    )
    assert sink.skipped == 1
    assert count(client, f"SELECT count() FROM {db}.requests FINAL") == 20
    assert count(client, f"SELECT uniqExact(request_id) FROM {db}.requests") == 20
    assert count(client, f"SELECT count() FROM {db}.attempts FINAL") == 1
    row = client.query(
        f"SELECT tenant, team, user, feature, logical_model, deployment, prompt_tokens, completion_tokens, "
        f"cached_tokens, cost_usd, status, attempts.deployment, total_us FROM {db}.requests FINAL "
        f"WHERE request_id = 'req-7'"
    ).result_rows[0]
    assert row == (
        "acme",
        "platform",
        "u1",
        "search",
        "smart-chat",
        "sim-gpt-4o",
        10,
        5,
        2,
        0.001,
        200,
        ["sim-gpt-4o"],
        2000,
    )


def test_timestamps_land_to_the_microsecond_in_utc(sink_setup: tuple[TurnoutConfig, Any]) -> None:
    """The rows carry integer microseconds (the DateTime64(6) columns' ticks): none is scaled or shifted."""
    config, client = sink_setup
    topics, codec, db = TopicNames(config.kafka.topic_prefix), EventCodec(), config.clickhouse.database
    at = 1_764_806_400_123_456  # 2025-12-04 00:00:00.123456 UTC
    base = record(0)
    exact = replace(
        base,
        request_id="req-at",
        received_at_us=at,
        finished_at_us=at + 2_000,
        attempts=[replace(base.attempts[0], started_at_us=at + 250)],
    )
    produce(config.kafka.bootstrap, topics.records, codec.encode(exact), b"req-at")
    run_sink(config, client, lambda: count(client, f"SELECT count() FROM {db}.requests") >= 1)
    row = client.query(
        f"SELECT toUnixTimestamp64Micro(received_at), toUnixTimestamp64Micro(finished_at), "
        f"toUnixTimestamp64Micro(attempts[1].started_at), toString(received_at) "
        f"FROM {db}.requests FINAL WHERE request_id = 'req-at'"
    ).result_rows[0]
    assert row == (at, at + 2_000, at + 250, "2025-12-04 00:00:00.123456")


def test_a_redelivered_batch_does_not_double_count(sink_setup: tuple[TurnoutConfig, Any]) -> None:
    config, client = sink_setup
    topics, codec, db = TopicNames(config.kafka.topic_prefix), EventCodec(), config.clickhouse.database
    for i in range(10):
        produce(config.kafka.bootstrap, topics.records, codec.encode(record(i)))
    run_sink(config, client, lambda: count(client, f"SELECT count() FROM {db}.requests") >= 10)
    # the same topic read again from the start, as after a crash before the offset commit
    replay = config.model_copy(
        update={"kafka": config.kafka.model_copy(update={"topic_prefix": config.kafka.topic_prefix})}
    )
    sink = ClickHouseSink(replay, client=client)
    sink_group_reset(config)
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    wait_until(lambda: sink.rows_written >= 10, 60, "replayed rows")
    sink.stop()
    thread.join(15)
    assert count(client, f"SELECT count() FROM {db}.requests FINAL") == 10
    # the replay re-inserted the same batches: the deduplication token dropped them before storage,
    # or ReplacingMergeTree folds them; either way a reader sees each request once
    assert count(client, f"SELECT count() FROM {db}.requests FINAL WHERE request_id = 'req-4'") == 1


def test_the_offsets_of_stored_batches_are_committed(sink_setup: tuple[TurnoutConfig, Any]) -> None:
    """Commits go out asynchronously while the sink runs (one held up by a broker outage must not
    stop its polling) and the last batch's is waited for: afterwards the group is at the end."""
    config, client = sink_setup
    topics, codec, db = TopicNames(config.kafka.topic_prefix), EventCodec(), config.clickhouse.database
    for i in range(30):  # batches of 7 rows: four flushed in the loop, the rest on the way out
        produce(config.kafka.bootstrap, topics.records, codec.encode(record(i)), f"req-{i}".encode())
    sink = run_sink(config, client, lambda: count(client, f"SELECT count() FROM {db}.requests") >= 30)
    assert sink.commit_failures == 0
    committed = committed_offsets(config, topics.records)
    assert committed == end_offsets(config, topics.records)
    assert sum(committed.values()) == 30


def test_a_failed_last_commit_is_counted_and_logged_once(
    sink_setup: tuple[TurnoutConfig, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The last batch's commit is waited for, and librdkafka reports it to the commit callback as
    well: its failure (here: offsets of a topic the broker does not have) shows once, not twice,
    and an asynchronous commit's failure still shows through the callback."""
    from confluent_kafka import Consumer

    config, client = sink_setup
    sink = ClickHouseSink(config, client=client)
    consumer = Consumer(
        {
            "bootstrap.servers": config.kafka.bootstrap,
            "group.id": sink_group(config),
            "enable.auto.commit": False,
            "on_commit": sink._committed,
        }
    )
    missing = f"{config.kafka.topic_prefix}.no-such-topic"
    try:
        for n, wait in enumerate((False, True)):
            batch = _Batch()
            for table, row in rows_for(record(n)):
                batch.add(table, row, missing, 0, 10 + n)
            with caplog.at_level(logging.WARNING, logger="sinks.clickhouse"):
                sink._flush(batch, consumer, wait=wait)
                # the commit callback is served inside poll
                wait_until(lambda n=n: consumer.poll(0.1) is None and sink.commit_failures > n, 30, "failure reported")
            consumer.poll(0.5)
    finally:
        consumer.close()
    failures = [r.getMessage() for r in caplog.records if "offset commit failed" in r.getMessage()]
    assert sink.commit_failures == 2, failures
    assert len(failures) == 2, failures


def committed_offsets(config: TurnoutConfig, topic: str) -> dict[int, int]:
    """The sink group's committed offset of each partition of ``topic`` (-1001 where none)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": config.kafka.bootstrap, "group.id": sink_group(config)})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        found = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in found}
    finally:
        consumer.close()


def end_offsets(config: TurnoutConfig, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": config.kafka.bootstrap, "group.id": f"{sink_group(config)}-probe"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
        return {p: high for p, (_, high) in marks.items()}
    finally:
        consumer.close()


def sink_group(config: TurnoutConfig) -> str:
    return f"{config.kafka.topic_prefix}-clickhouse-sink"


def sink_group_reset(config: TurnoutConfig) -> None:
    """Delete the sink's consumer group so the next sink re-reads every topic from the start."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": config.kafka.bootstrap})
    group = sink_group(config)
    deadline = time.monotonic() + 30
    while True:
        try:
            admin.delete_consumer_groups([group])[group].result(10)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_budget_panel_counts_a_request_in_the_period_it_finished_in(sink_setup: tuple[TurnoutConfig, Any]) -> None:
    """As the budget ledger charges a request when its usage arrives: one received before this
    hour's window began and answered in it counts in this window; one answered before it does not."""
    config, client = sink_setup
    rule = BudgetRule(name="team-hour", scope="team", usd=0.01, window_s=3600)
    config = config.model_copy(update={"budgets": [rule]})
    topics, codec, db = TopicNames(config.kafka.topic_prefix), EventCodec(), config.clickhouse.database
    now_s = time.time()
    start_us = int(period_of(rule, now_s).start_s * 1e6)

    def at(i: int, received_us: int, finished_us: int, team: str, cost: float) -> RequestRecord:
        caller = replace(CALLER, team=team)
        return replace(record(i), caller=caller, received_at_us=received_us, finished_at_us=finished_us, cost_usd=cost)

    records = [
        at(1, start_us - 9_000_000, start_us - 5_000_000, "platform", 0.004),  # the window before
        at(2, start_us - 2_000_000, start_us + 1, "platform", 0.002),  # begun before, answered in it
        at(3, start_us + 2, start_us + 3, "platform", 0.003),
        at(4, start_us + 2, start_us + 3, "search", 0.001),
    ]
    for r in records:
        produce(config.kafka.bootstrap, topics.records, codec.encode(r), r.request_id.encode())
    run_sink(config, client, lambda: count(client, f"SELECT count() FROM {db}.requests") >= len(records))
    spend = Dashboards(config, lambda sql: _rows(client, sql)).budget_spend(Filters(), now_s=now_s)
    assert [(label, round(share, 6)) for label, share in spend] == [
        ("team-hour · platform", 0.5),
        ("team-hour · search", 0.1),
    ]


def _rows(client: Any, sql: str) -> QueryResult:
    result = client.query(sql)
    return QueryResult(list(result.column_names), [list(r) for r in result.result_rows])


def test_migrations_apply_once(sink_setup: tuple[TurnoutConfig, Any]) -> None:
    config, client = sink_setup
    assert migrate(client, config.clickhouse.database) == []
    versions = client.query(f"SELECT version FROM {config.clickhouse.database}.schema_migrations ORDER BY version")
    assert [r[0] for r in versions.result_rows] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_every_grafana_panel_query_runs(sink_setup: tuple[TurnoutConfig, Any]) -> None:
    """The Grafana dashboard's SQL, with its macros expanded as the ClickHouse plugin does, runs on
    the migrated schema (a typo in a panel would otherwise only show in Grafana)."""
    config, client = sink_setup
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "grafana/dashboards/turnout.json").read_text())
    macros = [
        (r"\$__timeInterval\((\w+)\)", r"toStartOfInterval(\1, INTERVAL 60 SECOND)"),
        (r"\$__timeFilter\((\w+)\)", r"\1 >= now() - INTERVAL 1 DAY"),
        (r"\$__fromTime", "now() - INTERVAL 1 DAY"),
        (r"\$tenant", "'All'"),
    ]
    for panel in dashboard["panels"]:
        sql = panel["targets"][0]["rawSql"]
        for pattern, replacement in macros:
            sql = re.sub(pattern, replacement, sql)
        sql = sql.replace("turnout.", f"{config.clickhouse.database}.")
        client.query(sql)  # raises on a bad query


class Collector:
    """A real HTTP server standing in for an OpenTelemetry collector's OTLP/HTTP endpoint."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                assert self.path == "/v1/traces" and self.headers["content-type"] == "application/json"
                received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_spans_land_in_clickhouse_and_go_to_an_otlp_collector(make_config: Any) -> None:
    collector = Collector()
    _, config = make_config(sink={"batch_rows": 7, "batch_ms": 50, "otlp_endpoint": collector.url})
    prepare_topics(config.kafka)
    client = open_clickhouse(config.clickhouse.dsn, config.clickhouse.database)
    trace, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    base = record(1)
    stage = StageTiming("input_guard", base.received_at_us + 10, base.received_at_us + 90)
    traced = replace(base, trace_id=trace, parent_span_id=parent, stages=[stage])
    topics, codec, db = TopicNames(config.kafka.topic_prefix), EventCodec(), config.clickhouse.database
    produce(config.kafka.bootstrap, topics.records, codec.encode(traced), b"req-1")

    def sent() -> list[dict[str, Any]]:
        return [s for b in collector.bodies for s in b["resourceSpans"][0]["scopeSpans"][0]["spans"]]

    try:
        run_sink(config, client, lambda: count(client, f"SELECT count() FROM {db}.spans") == 3)
        wait_until(lambda: len(sent()) == 3, 10, "spans at the collector")
        assert count(client, f"SELECT count() FROM {db}.spans FINAL WHERE trace_id = '{trace}'") == 3
    finally:
        collector.server.shutdown()
        client.close()
    spans = {s["name"]: s for s in sent()}
    assert set(spans) == {"turnout.request", "stage input_guard", "provider simulator"}
    root = spans["turnout.request"]
    assert (root["traceId"], root["spanId"], root["parentSpanId"]) == (trace, request_span_id("req-1"), parent)
    assert int(root["endTimeUnixNano"]) - int(root["startTimeUnixNano"]) == 2_000_000  # 2 ms, in ns
    assert spans["provider simulator"]["parentSpanId"] == root["spanId"] and spans["provider simulator"]["kind"] == 3
    assert {"key": "turnout.tenant", "value": {"stringValue": "acme"}} in root["attributes"]
