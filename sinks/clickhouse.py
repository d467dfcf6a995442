"""The ClickHouse sink: batches every event topic into ClickHouse, off the request path.

Batches close by rows or by time. Offsets are committed only after the insert succeeded, so a
crash or an unreachable ClickHouse re-reads what was not stored. Commits go out asynchronously: a
commit held up by a broker outage must not stop the loop that polls (a blocked poll loop cannot
take part in the rebalance that follows the outage, and the sink stalled for minutes that way); a
commit that fails only means the batch is read again. The tables are ReplacingMergeTree
on each event's key and every insert carries a deduplication token, so what is re-read is not
counted twice. The default store is chDB (``chdb:///path``), which allows one process per path:
the sink is that process, and it answers read-only queries for others on
``http://127.0.0.1:<sink.query_port>/query`` (``turnout sql`` uses it). With a ClickHouse server
(``clickhouse.dsn: http://...``) the same code writes to the server and analysts use their tools.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import clickhouse_connect
import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from schemas.codec import EventCodec, UndecodableEvent
from schemas.config import TurnoutConfig
from sinks.access import QueryRefused, Reader, Readers, TenantScope
from sinks.dashboards import PAGES, Dashboards, Filters
from sinks.migrate import migrate
from sinks.otlp import OtlpExporter
from sinks.rows import TABLE_COLUMNS, rows_for
from streams.log_limits import rdkafka_logging
from streams.topics import TopicNames

__all__ = ["ClickHouseSink", "QueryResult", "open_clickhouse", "serve_queries"]

log = logging.getLogger(__name__)

DRAIN_S = 10.0  # at most this long taking what is on the topics when asked to stop


def open_clickhouse(dsn: str, database: str) -> Any:
    """A clickhouse-connect client for a chdb:// path or a server URL, migrated."""
    client = clickhouse_connect.get_client(dsn=dsn)
    migrate(client, database)
    return client


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]


def _partition_errors(partitions: list[TopicPartition]) -> str:
    """The errors a commit's report names per partition, joined; empty when there are none."""
    return "; ".join(f"{p.topic}[{p.partition}]: {p.error.str()}" for p in partitions if p.error is not None)


@dataclass
class _Batch:
    rows: dict[str, list[list[Any]]] = field(default_factory=lambda: defaultdict(list))
    offsets: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    opened_at: float = 0.0
    count: int = 0

    def add(self, table: str, row: list[Any], topic: str, partition: int, offset: int) -> None:
        if self.count == 0:
            self.opened_at = time.monotonic()
        self.rows[table].append(row)
        first, _ = self.offsets.get((topic, partition), (offset, offset))
        self.offsets[(topic, partition)] = (first, offset)
        self.count += 1

    def token(self, table: str) -> str:
        spans = ",".join(f"{t}:{p}:{a}-{b}" for (t, p), (a, b) in sorted(self.offsets.items()))
        return f"{table}|{spans}"


class ClickHouseSink:
    def __init__(self, config: TurnoutConfig, client: Any | None = None) -> None:
        self.config = config
        self.database = config.clickhouse.database
        self.topics = TopicNames(config.kafka.topic_prefix)
        self.client = client or open_clickhouse(config.clickhouse.dsn, self.database)
        self._lock = threading.Lock()
        self._codec = EventCodec()
        self._stop = threading.Event()
        self.rows_written = 0
        self.skipped = 0
        self.commit_failures = 0
        self._waited: set[tuple[str, int, int]] = set()  # the offsets of the commit waited for (the last batch's)
        endpoint = config.sink.otlp_endpoint
        self.otlp = OtlpExporter(endpoint) if endpoint else None

    def query(self, sql: str, readonly: bool = True, settings: dict[str, Any] | None = None) -> QueryResult:
        wanted = {**(settings or {}), **({"readonly": 1} if readonly else {})}
        with self._lock:
            result = self.client.query(sql, settings=wanted or None)
        return QueryResult(list(result.column_names), [list(r) for r in result.result_rows])

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Consume and store until ``stop()``."""
        sink = self.config.sink
        consumer = Consumer(
            {
                "bootstrap.servers": self.config.kafka.bootstrap,
                "group.id": f"{self.config.kafka.topic_prefix}-clickhouse-sink",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # the sink inserts once a second: it need not fetch every few messages, and each fetch
                # costs the broker and the sink a round trip (under load: hundreds a second, a few
                # records each)
                "fetch.min.bytes": 64 * 1024,
                "fetch.wait.max.ms": 200,
                "session.timeout.ms": 30000,  # no hurry to rebalance the sink; a busy broker must not evict it
                "on_commit": self._committed,
                **rdkafka_logging(),
            }
        )
        consumer.subscribe(list(self.topics.event_topics))
        batch = _Batch()
        try:
            while not self._stop.is_set():
                self._poll_into(batch, consumer, 0.05)
                due = batch.count and (time.monotonic() - batch.opened_at) * 1000 >= sink.batch_ms
                if batch.count >= sink.batch_rows or due:
                    self._flush(batch, consumer)
                    batch = _Batch()
            # asked to stop: take what is already on the topics first (until they are quiet, or
            # DRAIN_S), so a clean shutdown leaves nothing behind for the next start to insert
            deadline, quiet = time.monotonic() + DRAIN_S, 0
            while quiet < 3 and time.monotonic() < deadline:
                quiet = 0 if self._poll_into(batch, consumer, 0.2) else quiet + 1
                if batch.count >= sink.batch_rows:
                    self._flush(batch, consumer)
                    batch = _Batch()
            if batch.count:
                self._flush(batch, consumer, wait=True)
        finally:
            consumer.close()
            if self.otlp is not None:
                self.otlp.close()

    def _poll_into(self, batch: _Batch, consumer: Consumer, timeout_s: float) -> bool:
        """Add one polled message to ``batch``; whether one came."""
        msg = consumer.poll(timeout_s)
        if msg is None:
            return False
        err = msg.error()
        if err is None:
            self._add(batch, msg)
        elif err.code() != KafkaError._PARTITION_EOF:
            log.warning("sink consumer: %s", err.str())
        return err is None

    def _add(self, batch: _Batch, msg: Any) -> None:
        try:
            event = self._codec.decode(msg.value())
        except UndecodableEvent as exc:
            self.skipped += 1
            log.warning("sink skips %s[%d]@%d: %s", msg.topic(), msg.partition(), msg.offset(), exc)
            return
        for table, row in rows_for(event):
            batch.add(table, row, msg.topic(), msg.partition(), msg.offset())

    def _committed(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """librdkafka's report of an asynchronous commit (served inside ``poll``)."""
        if self._waited and {(p.topic, p.partition, p.offset) for p in partitions} == self._waited:
            return  # librdkafka reports a waited-for commit here too; its failure was raised in _flush
        failed = _partition_errors(partitions)
        if err is not None or failed:
            self._commit_failed(err.str() if err is not None else failed)

    def _flush(self, batch: _Batch, consumer: Consumer, wait: bool = False) -> None:
        """Insert ``batch`` (retrying while ClickHouse is unreachable), then commit its offsets:
        asynchronously in the loop, and waiting for the broker when ``wait`` (the last batch)."""
        delay = 0.2
        while True:
            try:
                self._insert(batch)
                break
            except Exception as exc:  # ClickHouse down: keep the batch, keep the offsets, retry
                if self._stop.is_set():
                    raise
                log.warning("insert into ClickHouse failed (%s); retrying in %.1f s", exc, delay)
                consumer.pause(consumer.assignment())
                self._stop.wait(delay)
                consumer.poll(0)
                delay = min(delay * 2, 5.0)
        consumer.resume(consumer.assignment())
        commits = [TopicPartition(t, p, last + 1) for (t, p), (_, last) in batch.offsets.items()]
        if not commits:
            return
        # a failed commit (a rebalance took the partitions away, the broker is down): whoever reads
        # the partitions next re-reads this batch, and the deduplication token and
        # ReplacingMergeTree keep the rows single
        if not wait:
            try:
                consumer.commit(offsets=commits, asynchronous=True)  # its outcome comes to _committed
            except KafkaException as exc:
                self._commit_failed(str(exc))
            return
        self._waited = {(c.topic, c.partition, c.offset) for c in commits}
        try:
            done = consumer.commit(offsets=commits, asynchronous=False) or []
        except KafkaException as exc:
            self._commit_failed(str(exc))
            return
        failed = _partition_errors(done)
        if failed:
            self._commit_failed(failed)

    def _commit_failed(self, reason: str) -> None:
        self.commit_failures += 1
        log.warning("offset commit failed (%s); the batch will be re-read and deduplicated", reason)

    def _insert(self, batch: _Batch) -> None:
        with self._lock:
            for table, rows in batch.rows.items():
                self.client.insert(
                    f"{self.database}.{table}",
                    rows,
                    column_names=TABLE_COLUMNS[table],
                    settings={"insert_deduplication_token": batch.token(table)},
                )
                self.rows_written += len(rows)
        if self.otlp is not None:
            self.otlp.offer(batch.rows.get("spans", []))


def serve_queries(sink: ClickHouseSink, host: str, port: int) -> ThreadingHTTPServer:
    """Answer ``POST /query`` (the SQL as the body) with ``{"columns", "rows"}``, read-only, and serve
    the dashboards at ``GET /dashboards/<page>``, to the readers of ``sink.readers`` (``sinks/access.py``)."""
    readers = Readers(sink.config)
    scope = TenantScope(sink.database, lambda sql: sink.query(sql).rows)
    if readers.open:
        log.warning("the sink's query port has no logins (sink.readers): anyone on this host can read it")

    def dashboards_for(reader: Reader) -> Dashboards:
        if reader.tenant is None:
            return Dashboards(sink.config, sink.query)
        settings = scope.settings(reader.tenant)
        return Dashboards(sink.config, lambda sql: sink.query(sql, settings=settings))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/query":
                self._send(404, {"error": "unknown path"})
                return
            sql = self.rfile.read(int(self.headers.get("content-length", "0"))).decode(errors="replace")
            reader = readers.identify(self.headers.get("authorization"))
            if reader is None:
                self._refuse_login("Bearer")
                return
            try:
                if reader.tenant is None:
                    result = sink.query(sql)
                else:
                    scope.check(sql)
                    result = sink.query(sql, settings=scope.settings(reader.tenant))
            except QueryRefused as exc:
                self._send(403, {"error": str(exc)})
                return
            except Exception as exc:
                self._send(400, {"error": str(exc)})
                return
            self._send(200, {"columns": result.columns, "rows": result.rows, "rows_written": sink.rows_written})

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if not url.path.startswith("/dashboards"):
                self._send(200, {"status": "ok", "rows_written": sink.rows_written})
                return
            reader = readers.identify(self.headers.get("authorization"))
            if reader is None:
                self._refuse_login('Basic realm="Turnout analytics", charset="UTF-8"')
                return
            if url.path.rstrip("/") == "/dashboards":
                self.send_response(302)
                self.send_header("location", "/dashboards/finance")
                self.end_headers()
                return
            page = url.path.removeprefix("/dashboards/").rstrip("/")
            if page not in PAGES:
                self._send(404, {"error": "unknown dashboard"})
                return
            filters = Filters.from_query(urllib.parse.parse_qs(url.query))
            if reader.tenant is not None:
                filters = dataclasses.replace(filters, tenant=reader.tenant)
            try:
                body = dashboards_for(reader).render(page, filters).encode()
            except Exception:
                log.exception("dashboard %s failed", page)
                self._send(500, {"error": "the dashboard's queries failed; see the sink's log"})
                return
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _refuse_login(self, challenge: str) -> None:
            data = orjson.dumps({"error": "a reader's token is needed (sink.readers)"})
            self.send_response(401)
            self.send_header("www-authenticate", challenge)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _send(self, status: int, body: Any) -> None:
            data = orjson.dumps(body, default=str)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="turnout-sink-queries", daemon=True).start()
    return server
