"""Where redacted values wait for the reply, on routes that restore them (``guardrails.pii.restore``).

The input and output guards may run on different workers (the split layout), so the placeholders
map of a request is kept in Redis, under the request's id, until the output guard takes it or the
request's deadline passes. It is the only copy of the values: they are never in an event, a log or
a ClickHouse row.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

__all__ = ["PlaceholderVault"]

log = logging.getLogger(__name__)

GRACE_MS = 60_000


class PlaceholderVault:
    def __init__(self, redis: Any, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, request_id: str) -> str:
        return f"{self._prefix}:restore:{request_id}"

    async def keep(self, request_id: str, placeholders: dict[str, str], deadline_us: int) -> None:
        ttl_ms = max(1000, deadline_us // 1000 - int(time.time() * 1000) + GRACE_MS)
        try:
            await self._redis.set(self._key(request_id), orjson.dumps(placeholders), px=ttl_ms)
        except Exception as exc:  # the reply keeps its placeholders; the values stay safe
            log.warning("could not keep the placeholders of %s (%s)", request_id, exc)

    async def take(self, request_id: str) -> dict[str, str]:
        try:
            raw = await self._redis.getdel(self._key(request_id))
        except Exception as exc:
            log.warning("could not take the placeholders of %s (%s)", request_id, exc)
            return {}
        return orjson.loads(raw) if raw else {}
