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
from streams.metrics import Metrics
from streams.stages.limits import Counter, counters_for, estimate_tokens

__all__ = ["Admission", "Limiter"]

log = logging.getLogger(__name__)

MARKER_TTL_MS = 15 * 60 * 1000  # longer than any request's deadline

# KEYS[1]: this request's admission marker; KEYS[2..]: the counters. ARGV[1]: the marker's ttl in ms;
# ARGV[2]: 1 to remember a refusal too (0 for a parked request, which asks again until admitted);
# then for each counter its limit, cost and ttl in ms, in KEYS order. Returns {1, 0} when admitted
# (every counter incremented), or {0, i} with i the first counter over (1-based among the counters).
# The marker makes admission idempotent: a request replayed after a worker crash gets the answer it
# got the first time and is not charged twice.
_ADMIT = """
local seen = redis.call('GET', KEYS[1])
if seen then
  local admitted, index = string.match(seen, '(%d):(%d+)')
  return {tonumber(admitted), tonumber(index)}
end
for i = 2, #KEYS do
  local base = 2 + (i - 2) * 3
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used + tonumber(ARGV[base + 2]) > tonumber(ARGV[base + 1]) then
    if ARGV[2] == '1' then redis.call('SET', KEYS[1], '0:' .. (i - 1), 'PX', ARGV[1]) end
    return {0, i - 1}
  end
end
for i = 2, #KEYS do
  local base = 2 + (i - 2) * 3
  redis.call('INCRBY', KEYS[i], ARGV[base + 2])
  redis.call('PEXPIRE', KEYS[i], ARGV[base + 3])
end
redis.call('SET', KEYS[1], '1:0', 'PX', ARGV[1])
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
    def __init__(self, config: TurnoutConfig, redis: Any, prefix: str, metrics: Metrics | None = None) -> None:
        self._metrics = metrics or Metrics()
        self._rules = config.limits
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_ADMIT) if redis is not None and config.limits else None
        self._settle = redis.register_script(_SETTLE) if redis is not None and config.limits else None

    async def admit(
        self, caller: Caller, request: ChatRequest, request_id: str, now_s: float | None = None, parked: bool = False
    ) -> Admission:
        """Check and take, once per request and model: a replay gets the first answer again."""
        estimate = estimate_tokens(request).total
        now_s = time.time() if now_s is None else now_s
        counters = counters_for(self._rules, caller, request.model, estimate, now_s, self._prefix)
        if not counters or self._script is None:
            return Admission(True, estimate)
        marker = f"{self._prefix}:admitted:{request_id}:{request.model}" + (":parked" if parked else "")
        keys = [marker, *(c.key for c in counters)]
        args: list[int] = [MARKER_TTL_MS, 0 if parked else 1]
        for c in counters:
            args += [c.limit, c.cost, int(c.window_s * 1000) + 1000]
        try:
            admitted, index = await self._script(keys=keys, args=args)
        except Exception as exc:
            log.warning("rate limits unavailable (%s)", exc)
            self._metrics.inc("turnout_redis_unavailable_total", part="limits")
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
