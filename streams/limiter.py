"""Admission against the rate limits, in Redis: one Lua script checks every counter a request
touches and takes from all of them, or from none. So a limit holds across every worker.

Redis unreachable: the logical model's ``on_limit.redis_down`` decides: ``open`` admits (and the
verdict records it), ``closed`` refuses with a 503.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from schemas.config import TurnoutConfig
from schemas.events import Caller, ChatRequest
from streams.stages.limits import Counter, counters_for, estimate_tokens

__all__ = ["Admission", "Limiter"]

log = logging.getLogger(__name__)

# KEYS: the counters. ARGV: for each counter its limit, cost and ttl in ms, in KEYS order.
# Returns {1} when admitted (every counter incremented), or {0, i} with i the first counter over.
_ADMIT = """
for i, key in ipairs(KEYS) do
  local base = (i - 1) * 3
  local used = tonumber(redis.call('GET', key) or '0')
  if used + tonumber(ARGV[base + 2]) > tonumber(ARGV[base + 1]) then
    return {0, i}
  end
end
for i, key in ipairs(KEYS) do
  local base = (i - 1) * 3
  redis.call('INCRBY', key, ARGV[base + 2])
  redis.call('PEXPIRE', key, ARGV[base + 3])
end
return {1, 0}
"""
# KEYS: token counters; ARGV[1]: the correction. A counter whose window already ended is left alone.
_SETTLE = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[1]) end
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    estimated_tokens: int
    token_keys: tuple[str, ...] = ()
    limited_by: Counter | None = None
    redis_down: bool = False

    def retry_after_s(self, now_s: float) -> float:
        return max(0.0, self.limited_by.window_ends_at_s - now_s) if self.limited_by else 0.0


class Limiter:
    def __init__(self, config: TurnoutConfig, redis: Any, prefix: str) -> None:
        self._rules = config.limits
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_ADMIT) if redis is not None and config.limits else None
        self._settle = redis.register_script(_SETTLE) if redis is not None and config.limits else None

    async def admit(self, caller: Caller, request: ChatRequest, now_s: float | None = None) -> Admission:
        estimate = estimate_tokens(request)
        now_s = time.time() if now_s is None else now_s
        counters = counters_for(self._rules, caller, request.model, estimate, now_s, self._prefix)
        if not counters or self._script is None:
            return Admission(True, estimate)
        keys = [c.key for c in counters]
        args: list[int] = []
        for c in counters:
            args += [c.limit, c.cost, int(c.window_s * 1000) + 1000]
        try:
            admitted, index = await self._script(keys=keys, args=args)
        except Exception as exc:
            log.warning("rate limits unavailable (%s)", exc)
            return Admission(False, estimate, redis_down=True)
        if not admitted:
            return Admission(False, estimate, limited_by=counters[int(index) - 1])
        return Admission(True, estimate, tuple(c.key for c in counters if c.kind == "tokens"))

    async def settle(self, token_keys: tuple[str, ...] | list[str], estimated: int, actual: int) -> None:
        """Correct the token counters by what the call really used."""
        if not token_keys or actual == estimated or self._settle is None:
            return
        try:
            await self._settle(keys=list(token_keys), args=[actual - estimated])
        except Exception as exc:
            log.warning("could not settle token counters (%s)", exc)
