"""The Faust app: built from the config, with one agent per entry of the topology.

    turnout worker --config config/turnout.yaml

runs one worker; run two or more (and two or more partitions) to use more than one core.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
import redis.asyncio as aioredis

from schemas.codec import EventCodec, UndecodableEvent
from schemas.config import FETCH_MAX_WAIT_MS, TurnoutConfig
from schemas.events import AttemptEvent, BudgetEvent, CacheFill, UsageEvent
from streams.agents import StageHandler
from streams.alerts import WebhookSender
from streams.breakers import BreakerBoard, BreakerTracker, JsonTable, follow_breakers
from streams.budgets import BudgetBook
from streams.caching import ResponseCache
from streams.controls import ControlBoard
from streams.emitter import FaustEmitter
from streams.follow import follow_topic
from streams.health import WorkerHealth
from streams.invoker import Invoker, now_us
from streams.kafka_transport import LowLatencyTransport
from streams.lanes import Lane
from streams.ledger import BudgetLedger
from streams.limiter import Limiter
from streams.metrics import Metrics
from streams.pipeline import Pipeline
from streams.providers.transport import TransportShelf
from streams.reload import ConfigReloader
from streams.routing.classifier import ComplexityModel
from streams.topics import TopicNames
from streams.topology import agent_specs, parked_spec
from streams.vault import PlaceholderVault

__all__ = ["TurnoutApp", "build_app"]

log = logging.getLogger(__name__)

# Faust makes ``<datadir>/v1/tables`` at start even for in-memory tables; by default under the
# working directory, which left a ``<group>-data`` tree wherever a worker or a test ran. It makes
# the directory without its parents, so this one sits in the temp dir itself.
FAUST_DATADIR = str(Path(tempfile.gettempdir()) / "turnout-faust-{conf.name}")

RESYNC_S = 5.0  # how often each worker publishes its ledger totals to Redis again


class TurnoutApp(faust.App):
    """faust.App with the low-latency consumer transport."""

    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closers: list[Callable[[], None]] = []  # run once the app has stopped
        self.lanes: dict[str, Lane] = {}  # topic -> its stage's lane; the consumer reads this (streams.lanes)

    def _new_transport(self) -> Any:
        return LowLatencyTransport(self.conf.broker_consumer, self)

    async def on_stop(self) -> None:
        for lane in self.lanes.values():  # before the consumer commits: what is cancelled is read again
            await lane.stop()
        await super().on_stop()
        for close in self.closers:
            close()


def build_app(config: TurnoutConfig) -> TurnoutApp:
    started_at = time.monotonic()
    kafka = config.kafka
    web_port = config.topology.web_port
    session_s = kafka.session_timeout_ms / 1000
    app = TurnoutApp(
        kafka.consumer_group,
        broker=f"kafka://{kafka.bootstrap}",
        store="memory://",
        datadir=FAUST_DATADIR,  # tables live in memory; faust still makes this tree, so not in the cwd
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=kafka.partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session_s,
        broker_heartbeat_interval=max(0.3, session_s / 6),
        broker_request_timeout=max(30.0, session_s * 2),
        broker_commit_interval=0.5,
        stream_wait_empty=False,
        producer_linger=0.0,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
    )
    app.fetch_max_wait_ms = kafka.fetch_max_wait_ms
    topics = TopicNames(kafka.topic_prefix)
    codec = EventCodec()
    redis = aioredis.from_url(config.redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    board = BreakerBoard(config.breakers, redis, lease_prefix=kafka.topic_prefix)
    metrics = Metrics()
    budgets = BudgetBook(config, redis, kafka.topic_prefix, metrics)  # the ledger's (its rules need a restart)
    controls = ControlBoard()
    cache = ResponseCache.from_config(config, redis, topics, codec, metrics)
    vault = PlaceholderVault(redis, kafka.topic_prefix)
    transports = TransportShelf()
    app.closers.append(transports.close)
    complexity: list[ComplexityModel] = []

    def request_path(config: TurnoutConfig) -> Pipeline:
        """The stages' logic for ``config``; built again when a reloaded config is taken up."""
        invoker = Invoker(config, transports.for_providers(dict(config.providers)), topics, breakers=board)
        if any(m.routing and m.routing.simple for m in config.models.values()) and not complexity:
            complexity.append(ComplexityModel.load())
        pipeline = Pipeline(
            config,
            invoker,
            limiter=Limiter(config, redis, kafka.topic_prefix, metrics),
            budgets=BudgetBook(config, redis, kafka.topic_prefix, metrics),
            controls=controls,
            metrics=metrics,
            complexity=complexity[0] if complexity else None,
            topics=topics,
            vault=vault,
            cache=cache,
        )
        invoker.guard_streams_with(pipeline.guards.stream_guard)
        return pipeline

    pipeline = request_path(config)
    emitter = FaustEmitter(app.producer, codec)

    def raw_topic(name: str) -> faust.TopicT:
        return app.topic(name, key_type=bytes, value_type=bytes, partitions=kafka.partitions)

    _add_breakers(app, config, topics, codec, emitter, board, raw_topic)
    _add_budgets(app, config, topics, codec, emitter, budgets, raw_topic, metrics)
    if cache is not None:
        _add_cache(app, config, topics, codec, emitter, cache, raw_topic)

    _add_gauges(app, metrics, board, topics)
    if web_port is not None:

        @app.page("/metrics")
        async def serve_metrics(view: Any, request: Any) -> Any:
            return view.text(metrics.render(), content_type="text/plain; version=0.0.4")

        def health(view: Any, readiness: bool) -> Any:
            consumer: Any = app.consumer  # streams.kafka_transport's: when it last fetched, its coordinator
            state = WorkerHealth(
                started_at=started_at,
                fetched_at=consumer.fetched_at,
                joined=app.rebalancing_count > 0,
                rebalancing=app.rebalancing,
                coordinator_known=consumer.coordinator_known(),
                partitions=len(app.assignor.assigned_actives()),
                controls_loaded=controls.loaded.is_set(),
                breakers_loaded=board.loaded.is_set(),
            )
            now = time.monotonic()
            ok = state.ready(now) if readiness else state.live(now)
            return view.json(state.report(now), status=200 if ok else 503)

        @app.page("/healthz")
        async def serve_liveness(view: Any, request: Any) -> Any:
            return health(view, readiness=False)

        @app.page("/readyz")
        async def serve_readiness(view: Any, request: Any) -> Any:
            return health(view, readiness=True)

    @app.task
    async def dump_tasks_on_sigusr1() -> None:
        """``kill -USR1 <worker>`` logs every asyncio task's stack: what a stuck worker waits on."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: _dump_tasks(app))

    @app.task
    async def follow_controls() -> None:
        await follow_topic(kafka.bootstrap, topics.controls, kafka.partitions, codec, controls.apply, controls.loaded)

    handlers = [StageHandler(parked_spec(config.topology, topics), pipeline, emitter, codec, topics)]
    app.agent(raw_topic(topics.parked), name="turnout.parked", concurrency=config.topology.concurrency)(
        _agent_body(handlers[0], handlers[0].handle_parked)
    )

    for spec in agent_specs(config.topology, topics):
        handler = StageHandler(spec, pipeline, emitter, codec, topics)
        handlers.append(handler)
        if config.topology.delivery == "lane":
            app.topics.add(raw_topic(spec.input_topic))  # subscribed, assigned and committed by faust
            app.lanes[spec.input_topic] = Lane(app, spec.name, handler.handle, spec.concurrency)
        else:
            app.agent(raw_topic(spec.input_topic), name=f"turnout.{spec.name}", concurrency=spec.concurrency)(
                _agent_body(handler, handler.handle)
            )

    reloader = ConfigReloader(config, request_path, handlers, cache)
    metrics.gauge_from("turnout_config_info", lambda: [({"version": reloader.version}, 1.0)])

    @app.task
    async def follow_config() -> None:
        await follow_topic(kafka.bootstrap, topics.config, kafka.partitions, codec, reloader.apply)

    return app


def _add_breakers(
    app: TurnoutApp,
    config: TurnoutConfig,
    topics: TopicNames,
    codec: EventCodec,
    emitter: FaustEmitter,
    board: BreakerBoard,
    raw_topic: Any,
) -> None:
    """The breaker agent (attempts in, transitions out) and this worker's view of every breaker."""
    table = app.Table("breakers", default=None, partitions=config.kafka.partitions, key_type=bytes, value_type=bytes)
    tracker = BreakerTracker(JsonTable(table), config.breakers)

    @app.agent(raw_topic(topics.attempts), name="turnout.breakers")
    async def breakers(stream: faust.StreamT) -> None:
        async for value in stream:
            try:
                attempt = codec.decode_as(AttemptEvent, value)
            except UndecodableEvent:
                continue  # the sink and the stages dead-letter what they cannot read; breakers skip it
            transition = tracker.record(attempt, now_us())
            if transition is not None:
                log.warning(
                    "breaker %s: %s -> %s (%s)",
                    transition.deployment,
                    transition.previous_state,
                    transition.state,
                    transition.reason,
                )
                await (await emitter.send(topics.breakers, transition.deployment, transition))

    @app.task
    async def follow() -> None:
        await follow_breakers(
            board, config.kafka.bootstrap, topics.breakers, config.kafka.partitions, codec, board.loaded
        )


def _add_budgets(
    app: TurnoutApp,
    config: TurnoutConfig,
    topics: TopicNames,
    codec: EventCodec,
    emitter: FaustEmitter,
    book: BudgetBook,
    raw_topic: Any,
    metrics: Metrics,
) -> None:
    """The ledger agent (usage in; spend, settlements and alerts out) and its resync timer."""
    if not config.budgets:
        return
    table = app.Table("budgets", default=None, partitions=config.kafka.partitions, key_type=bytes, value_type=bytes)
    ledger = BudgetLedger(JsonTable(table), book)
    webhooks = WebhookSender({b.name: b.webhook_url for b in config.budgets if b.webhook_url})

    @app.agent(raw_topic(topics.usage), name="turnout.budgets")
    async def budgets(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            try:
                usage = codec.decode_as(UsageEvent, message.value)
            except UndecodableEvent:
                continue  # the sink dead-letters what it cannot read
            try:
                alerts = await ledger.record(usage, message.partition, message.offset)
            except Exception:  # Redis down: the table has it; the resync timer publishes it later
                log.exception("ledger could not settle request %s", usage.request_id)
                continue
            for alert in alerts:
                metrics.inc("turnout_budget_alerts_total", budget=alert.budget)
                await _announce(alert, emitter, topics, webhooks)

    @app.timer(RESYNC_S)
    async def resync() -> None:
        owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topics.usage}
        try:
            await ledger.resync(owned, now_us() / 1e6)
        except Exception as exc:
            log.warning("ledger resync failed (%s)", exc)


BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


def _add_gauges(app: TurnoutApp, metrics: Metrics, board: BreakerBoard, topics: TopicNames) -> None:
    """Breaker states and consumer lag, read when ``/metrics`` is scraped."""

    def breakers() -> list[tuple[dict[str, str], float]]:
        return [({"deployment": s.deployment}, BREAKER_VALUES.get(s.state, 0)) for s in board.states()]

    def lag() -> list[tuple[dict[str, str], float]]:
        consumer: Any = app.consumer
        behind: dict[str, float] = {}
        for tp in app.assignor.assigned_actives():
            read = consumer._read_offset.get(tp)  # faust's own record of what it has read; no public accessor
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            behind[tp.topic] = behind.get(tp.topic, 0.0) + max(0, highwater - ((read + 1) if read is not None else 0))
        return [({"topic": topic}, value) for topic, value in sorted(behind.items())]

    metrics.gauge_from("turnout_breaker_state", breakers)
    metrics.gauge_from("turnout_consumer_lag", lag)


def _add_cache(
    app: TurnoutApp,
    config: TurnoutConfig,
    topics: TopicNames,
    codec: EventCodec,
    emitter: FaustEmitter,
    cache: ResponseCache,
    raw_topic: Any,
) -> None:
    """The cache writer (fills in; Redis entries, and vectors for the semantic cache, out) and, with
    the embedded store, this worker's follower of every entry."""

    @app.agent(raw_topic(topics.cache_fills), name="turnout.cache_writer")
    async def cache_writer(stream: faust.StreamT) -> None:
        async for value in stream:
            try:
                fill = codec.decode_as(CacheFill, value)
            except UndecodableEvent:
                continue  # written by Turnout only; nothing a client sent is lost by skipping it
            try:
                entry = await cache.write(fill)
            except Exception:  # Redis or the store down: that answer is not cached, nothing else
                log.exception("cache writer could not store the answer to %s", fill.request_id)
                continue
            if entry is not None:
                await (await emitter.send(topics.cache_entries, entry.entry_id, entry))

    if cache.follows_entries:

        @app.task
        async def follow_cache_entries() -> None:
            await follow_topic(
                config.kafka.bootstrap, topics.cache_entries, config.kafka.partitions, codec, cache.apply_entry
            )

    app.closers.append(cache.close)


async def _announce(alert: BudgetEvent, emitter: FaustEmitter, topics: TopicNames, webhooks: WebhookSender) -> None:
    log.warning(
        "budget %s (%s %s): %.0f%% reached, $%.6f of $%g",
        alert.budget,
        alert.scope,
        alert.scope_value,
        alert.threshold * 100,
        alert.spent_usd,
        alert.limit_usd,
    )
    await (await emitter.send(topics.budget_events, f"{alert.budget}:{alert.scope_value}", alert))
    webhooks.send(alert)


def _dump_tasks(app: TurnoutApp) -> None:
    _dump_producer(app)
    tasks = asyncio.all_tasks()
    log.warning("SIGUSR1: %d asyncio tasks", len(tasks))
    for task in tasks:
        where: list[str] = []
        coro: Any = task.get_coro()
        while coro is not None and len(where) < 16:  # the await chain, outermost first
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is not None:
                where.append(f"{frame.f_code.co_name}@{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        log.warning("task %s: %s", task.get_name(), " -> ".join(where) or "(no frames)")


def _dump_producer(app: TurnoutApp) -> None:
    """The batches the producer still holds, with their age and their partition's leader (private
    aiokafka state: a diagnostic, read only)."""
    producer = getattr(app.producer, "_producer", None)
    accumulator = getattr(producer, "_message_accumulator", None)
    if producer is None or accumulator is None:
        return
    now = time.monotonic()
    waiting = [(tp, b) for tp, batches in accumulator._batches.items() for b in batches]
    waiting += [(b.tp, b) for b in accumulator._pending_batches]
    for tp, batch in waiting:
        leader = producer.client.cluster.leader_for_partition(tp)
        log.warning("producer batch %s:%s age %.1f s leader %s", tp.topic, tp.partition, now - batch._ctime, leader)
    log.warning("producer: %d batches waiting; metadata topics %s", len(waiting), sorted(producer.client._topics))


def _agent_body(handler: StageHandler, handle: Any) -> Any:
    async def agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            try:
                await handle(message.topic, message.partition, message.offset, message.key, message.value)
            except Exception:  # the handler answers errors itself; this is the last line of defence
                log.exception(
                    "agent %s failed on %s[%d]@%d", handler.spec.name, message.topic, message.partition, message.offset
                )

    agent.__name__ = f"turnout_{handler.spec.name}"
    return agent
