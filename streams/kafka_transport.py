"""Faust's aiokafka transport, with three changes (and the time the fetch loop last came back, for
the worker's liveness check, and whether its group coordinator answers, for the readiness check:
``streams.health``).

- The consumer's fetch wait comes from the config: faust-streaming 0.15 hard-codes
  ``fetch_max_wait_ms=1500`` for the worker's consumer, which adds up to 1.5 s per hop when a topic
  is quiet. This transport sets it from ``kafka.fetch_max_wait_ms``.
- The producer tracks every topic it sends to. aiokafka 0.14's client asks for metadata of all
  topics until it tracks one, and ``send`` adds a topic to the tracked set only when the cluster
  metadata does not know it yet: a topic first seen in an all-topics answer is never tracked, and
  falls out of the metadata at the next refresh that asks for the tracked topics only. Its
  partitions then have no leader, and every batch for them waits for the producer's whole request
  timeout (20 minutes in Faust), holding the agent that awaits the ack and every commit (which
  flushes the producer). Seen here as a worker that stops processing after a few requests.
- The consumer runs on the worker's own event loop. Faust runs aiokafka's consumer in a thread with
  a loop of its own and hands every fetched batch, commit and seek across with a method queue:
  each batch wakes two loops, and the two threads take turns at the GIL. Here the thread's service
  is started as a plain service of the worker's loop and its calls are awaited directly. What
  faust's thread protects against, a stage that holds the loop long enough to miss heartbeats,
  does not apply to Turnout's stages: none blocks (provider calls are awaited, the guardrails take
  well under a millisecond), and the session timeout is seconds.

Importing this module also puts ``streams.kafka_wire``'s fetch codec in place of aiokafka's.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import aiokafka
from aiokafka.errors import KafkaError
from aiokafka.producer.sender import Sender
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode import Service
from mode.services import WaitResults

from schemas.config import FETCH_MAX_WAIT_MS
from streams import kafka_wire
from streams.eager import Resumed, start_eagerly
from streams.lanes import Lane

__all__ = ["LowLatencyTransport"]

log = logging.getLogger(__name__)

kafka_wire.install()  # fetch requests and answers without aiokafka's schema walk


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


class _InLoopConsumer(_ConsumerThread):
    """Faust's consumer "thread", run as a service of the caller's loop: no thread, no queue.

    ``ServiceThread`` is told to use the parent's loop as its own, and each thread-only piece is
    put back to what a plain ``Service`` does.
    """

    wait_for_shutdown = False

    def __init__(self, consumer: Any, *, loop: Any, **kwargs: Any) -> None:
        super().__init__(consumer, loop=loop, thread_loop=loop, **kwargs)

    async def start(self) -> None:
        await Service.start(self)

    async def maybe_start(self) -> bool:
        return await Service.maybe_start(self)

    async def stop(self) -> None:
        await Service.stop(self)

    def _stopped_set(self) -> None:
        self._stopped.set()

    def set_shutdown(self) -> None:
        self._shutdown.set()

    async def _stop_children(self) -> None:
        await self._default_stop_children()

    async def _stop_futures(self) -> None:
        await self._default_stop_futures()

    async def _stop_exit_stacks(self) -> None:
        await self._default_stop_exit_stacks()

    async def on_stop(self) -> None:
        await self.on_thread_stop()  # stops aiokafka's consumer, as the thread does on its way out

    async def call_thread(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = fun(*args, **kwargs)  # the method queue takes plain functions too (subscribe is one)
        return await result if inspect.isawaitable(result) else result

    async def cast_thread(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        result = fun(*args, **kwargs)
        if inspect.isawaitable(result):
            self.add_future(result)

    async def on_partitions_revoked(self, revoked: Iterable[TP]) -> None:
        await self.consumer.on_partitions_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TP], generation_id: int = 0) -> None:
        await self.consumer.on_partitions_assigned(set(assigned), generation_id)


class _Consumer(faust_aiokafka.Consumer):
    fetched_at: float | None = None  # monotonic: when the fetch loop last came back (the liveness check)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lanes: dict[str, Lane] = getattr(self.app, "lanes", {})  # topic -> its stage (streams.lanes)
        self.callback = self._deliver(self.callback)

    def _deliver(self, conductor: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        """The fetch loop's callback: a lane's topic to the lane, any other to faust's conductor."""
        lanes = self.lanes

        async def deliver(message: Any) -> None:
            lane = lanes.get(message.topic)
            if lane is None:
                await conductor(message)
            else:
                await lane.take(message)

        return deliver

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        """Faust's fetch loop hands every message to the conductor as
        ``wait_first(callback(message), suspend_flow.wait())``: the delivery, abandoned if the flow is
        suspended (a rebalance) while it waits. mode's ``wait_first`` makes four tasks for that (the
        two, and two for the service's stop and crash events) and cancels three: 32 µs of CPU a
        message measured here, and a few turns of the event loop on every hop.

        The delivery almost never waits (it puts the event on the agent's queue), so it is run here
        up to its first wait: one that finishes without one is the winner at once, and the second
        coroutine is closed unstarted. One that does wait is raced as before, from where it stopped.
        Any other call, or one made while the flow is suspended or the service stopping, goes to
        mode's own ``wait_first``."""
        if (
            len(coros) != 2
            or timeout is not None
            or not all(inspect.iscoroutine(c) for c in coros)
            or self.suspend_flow.is_set()
            or self.should_stop
        ):
            return await super().wait_first(*coros, timeout=timeout)
        delivery, other = coros
        try:
            waiting_on = delivery.send(None)
        except StopIteration as done:
            other.close()
            return WaitResults([delivery], [done.value], False)
        except BaseException:
            other.close()
            raise
        results = await super().wait_first(Resumed(delivery, waiting_on), other)
        winners = [other if w is other else delivery for w in results.done]  # the caller's coroutine, not ours
        return WaitResults(winners, results.results, results.stopped)

    async def _wait_next_records(self, timeout: float) -> Any:
        try:
            return await super()._wait_next_records(timeout)
        finally:
            self.fetched_at = time.monotonic()

    def coordinator_known(self) -> bool:
        """Whether the group's coordinator (a broker) is known and answering heartbeats. aiokafka
        forgets it when heartbeats have failed for a session timeout, or when the broker says it is
        no longer the coordinator, and looks for it again until a broker answers."""
        consumer = getattr(self._thread, "_consumer", None)
        coordinator = getattr(consumer, "_coordinator", None)
        return getattr(coordinator, "coordinator_id", None) is not None

    def _new_consumer_thread(self) -> _ConsumerThread:
        thread = _InLoopConsumer(self, loop=self.loop, beacon=self.beacon)
        thread.fetch_max_wait_ms = getattr(self.app, "fetch_max_wait_ms", FETCH_MAX_WAIT_MS)
        return thread


class _TrackingClient(aiokafka.AIOKafkaClient):
    async def _wait_on_metadata(self, topic: str) -> Any:
        if topic not in self._topics:
            self.add_topic(topic)  # tracked from its first send, whatever the metadata knows already
        return await super()._wait_on_metadata(topic)


class _EagerSender(Sender):
    """aiokafka's sender, which can also write what is queued at once (``send_now``).

    aiokafka's producer appends a message to its accumulator and wakes its sender task; the task
    drains the accumulator and starts another task that builds the produce request and writes it.
    That is three turns of the event loop, and each runs after whatever the loop had queued before
    (on a worker: the fetcher's next request, faust's fetch loop), about 0.5 ms of a hop between
    stages. ``send_now`` drains and writes in the caller's own turn, for each broker with no
    request in flight (aiokafka keeps one per broker; batches wait behind it as before).
    """

    def send_now(self) -> None:
        txn = self._txn_manager
        if txn is not None and (txn.transactional_id is not None or not txn.has_pid()):
            return  # transactions, and an idempotent producer without its id yet: the sender task's
        batches, _ = self._message_accumulator.drain_by_nodes(
            ignore_nodes=self._in_flight, muted_partitions=self._muted_partitions
        )
        for node_id, node_batches in batches.items():
            self._in_flight.add(node_id)
            self._muted_partitions.update(node_batches)
            # builds the request and writes it before this returns; the task waits for the answer
            task = start_eagerly(self._send_produce_req(node_id, node_batches))
            task.add_done_callback(partial(self._sent, node_id, node_batches))

    def _sent(self, node_id: int, batches: dict[Any, Any], task: asyncio.Future[Any]) -> None:
        error = None if task.cancelled() else task.exception()
        if task.cancelled() or error is not None:
            # aiokafka's request handler answers Kafka's errors itself (retries, failed batches);
            # anything else ended it before it let go of the broker and the partitions
            log.error("a produce request to broker %s ended abnormally", node_id, exc_info=error)
            self._in_flight.discard(node_id)
            self._muted_partitions.difference_update(batches)
            queued = self._message_accumulator._batches
            for tp, batch in batches.items():
                if batch not in queued.get(tp, ()):  # put back for a retry before it ended: it is still sent
                    batch.failure(exception=error or KafkaError("the produce request was cancelled"))
        self._wake_sender_task()  # what was queued behind this request goes out now

    def _wake_sender_task(self) -> None:
        waiter = self._message_accumulator.waiter()
        if not waiter.done():
            waiter.set_result(None)


class _TrackingProducer(aiokafka.AIOKafkaProducer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client.__class__ = _TrackingClient
        self._sender.__class__ = _EagerSender

    def send_now(self) -> None:
        """Write what is queued to each broker without a produce request in flight, now."""
        sender: _EagerSender = self._sender
        sender.send_now()


class _Producer(faust_aiokafka.Producer):
    @property
    def _producer_type(self) -> type[aiokafka.AIOKafkaProducer]:
        return _TrackingProducer

    def send_now(self) -> None:
        """What has been sent so far goes to the broker now (``_EagerSender``), not a few turns of
        the loop later."""
        if self._producer is not None:  # started; its type is _producer_type's
            self._producer.send_now()


class LowLatencyTransport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _Producer
