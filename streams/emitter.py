"""Where stages send events. The Faust agents use ``FaustEmitter``; tests can pass their own."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from schemas.codec import EventCodec

__all__ = ["Emitter", "FaustEmitter", "HoldingEmitter"]


class Emitter(Protocol):
    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        """Queue ``event`` for ``topic`` (with ``trace`` as its ``traceparent`` header, when given);
        await the result to wait for the broker's ack."""

    async def send_later(self, topic: str, key: str, event: Any) -> None:
        """Queue ``event`` to go out after the stage's own output: bookkeeping no caller waits for
        (a successful attempt, its usage). An emitter that holds nothing sends it at once."""

    def flush(self) -> None:
        """What has been queued goes to the broker now: something waits on it (the next stage, a
        caller). Without this the producer sends it a few turns of the event loop later."""


class FaustEmitter:
    """Sends encoded events through the Faust app's producer (one producer per worker)."""

    def __init__(self, producer: Any, codec: EventCodec) -> None:
        self._producer = producer
        self._codec = codec

    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        value = self._codec.encode(event)
        headers = [("traceparent", trace.encode())] if trace else None
        fut: Awaitable[Any] = await self._producer.send(topic, key.encode(), value, None, None, headers)
        return fut

    async def send_later(self, topic: str, key: str, event: Any) -> None:
        await self.send(topic, key, event)

    def flush(self) -> None:
        self._producer.send_now()  # streams.kafka_transport's producer


class HoldingEmitter:
    """One message's emitter: ``send_later`` events wait until ``release``, after the output.

    aiokafka keeps one produce request in flight per broker, so an event queued just before the
    reply makes the reply wait for that request's round trip: the reply goes first instead.
    """

    def __init__(self, inner: Emitter) -> None:
        self._inner = inner
        self._held: list[tuple[str, str, Any]] = []

    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        return await self._inner.send(topic, key, event, trace)

    async def send_later(self, topic: str, key: str, event: Any) -> None:
        self._held.append((topic, key, event))

    def flush(self) -> None:
        self._inner.flush()

    async def release(self) -> list[Awaitable[Any]]:
        """Send what was held, in the order it came; the broker's acks to await."""
        held, self._held = self._held, []
        return [await self._inner.send(topic, key, event) for topic, key, event in held]
