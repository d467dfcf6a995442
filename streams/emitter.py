"""Where stages send events. The Faust agents use ``FaustEmitter``; tests can pass their own."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from schemas.codec import EventCodec

__all__ = ["Emitter", "FaustEmitter"]


class Emitter(Protocol):
    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        """Queue ``event`` for ``topic`` (with ``trace`` as its ``traceparent`` header, when given);
        await the result to wait for the broker's ack."""


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
