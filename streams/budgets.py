"""Budgets across workers: reservations and the shared view of spend, in Redis.

Each budget slot (one budget, one scope value, one period; see ``streams.stages.budgets``) has
three Redis hashes under its key:

- ``:spent``: partition of the usage topic -> nano-USD. The ledger (``streams.ledger``) is the
  only writer: the owner of each usage partition writes that partition's total from its
  changelog-backed Faust table. The slot's spend is the sum of the fields.
- ``:reserved``: request id -> ``nano:expires_ms``, the estimates of the requests in flight.
- ``:alerted``: the thresholds already announced this period.

``reserve`` checks every slot a request touches and reserves in all of them, or in none, in one
script, so the check holds across every worker. The ledger settles a request's real cost and
drops its reservation in one script too, so between the two a request is always counted once
(reserved, or spent). A reservation that is never settled (its worker died) lapses at its expiry.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from schemas.config import TurnoutConfig
from schemas.events import Caller, ChatRequest
from streams.metrics import Metrics
from streams.stages.budgets import BudgetSlot, budgets_for, estimate_cost_nano
from streams.stages.limits import estimate_tokens

__all__ = ["BudgetAdmission", "BudgetBook", "SlotSettlement"]

log = logging.getLogger(__name__)

RESERVATION_GRACE_MS = 60_000  # a reservation outlives its request's deadline by this much
SLOT_TTL_GRACE_MS = 3_600_000  # a slot's hashes outlive its period by this much

# KEYS: for each slot its :spent and :reserved hashes. ARGV[1]: the request id; ARGV[2]: now in ms;
# ARGV[3]: the reservation's expiry in ms; ARGV[4]: 1 to ask for a downgrade past a slot's
# downgrade mark; then for each slot its limit, the estimate, its downgrade mark (-1: none) and the
# hashes' ttl in ms. Returns {1, 0, 0, 0} when reserved in every slot; {2, i, spent, reserved} when
# slot i is past its downgrade mark (asked before the limit: the cheaper model may still fit);
# {0, i, spent, reserved} when slot i is over. The request's own earlier reservation is not
# counted against it, so a replay reserves once.
_RESERVE = """
local rid, now, expires = ARGV[1], tonumber(ARGV[2]), ARGV[3]
for i = 1, #KEYS / 2 do
  local spent = 0
  for _, v in ipairs(redis.call('HVALS', KEYS[2 * i - 1])) do spent = spent + tonumber(v) end
  local held = 0
  local entries = redis.call('HGETALL', KEYS[2 * i])
  for j = 1, #entries, 2 do
    local amount, until_ms = string.match(entries[j + 1], '(%d+):(%d+)')
    if tonumber(until_ms) <= now then redis.call('HDEL', KEYS[2 * i], entries[j])
    elseif entries[j] ~= rid then held = held + tonumber(amount) end
  end
  local base = 4 + (i - 1) * 4
  local limit, cost, mark = tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  if ARGV[4] == '1' and mark >= 0 and spent + held >= mark then return {2, i, spent, held} end
  if spent + held + cost > limit then return {0, i, spent, held} end
end
for i = 1, #KEYS / 2 do
  local base = 4 + (i - 1) * 4
  redis.call('HSET', KEYS[2 * i], rid, ARGV[base + 2] .. ':' .. expires)
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[base + 4])
end
return {1, 0, 0, 0}
"""
# KEYS: :reserved hashes; ARGV[1]: the request id.
_RELEASE = """
for _, key in ipairs(KEYS) do redis.call('HDEL', key, ARGV[1]) end
return 1
"""
# KEYS: for each slot its :spent, :reserved and :alerted hashes. ARGV[1]: the request id;
# ARGV[2]: the usage partition's field; then for each slot: that partition's total in nano-USD,
# the hashes' ttl in ms, and its alert marks in nano-USD joined by ','. Returns, for each slot,
# {spent, {index of each alert mark newly reached}}; a mark is reported once per slot.
_SETTLE = """
local out = {}
for i = 1, #KEYS / 3 do
  local spent_key, reserved_key, alerted_key = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local base = 2 + (i - 1) * 3
  redis.call('HSET', spent_key, ARGV[2], ARGV[base + 1])
  redis.call('PEXPIRE', spent_key, ARGV[base + 2])
  redis.call('HDEL', reserved_key, ARGV[1])
  local spent = 0
  for _, v in ipairs(redis.call('HVALS', spent_key)) do spent = spent + tonumber(v) end
  local reached, n = {}, 0
  for mark in string.gmatch(ARGV[base + 3], '[^,]+') do
    n = n + 1
    if spent >= tonumber(mark) and redis.call('HSETNX', alerted_key, mark, 1) == 1 then
      table.insert(reached, n)
    end
  end
  redis.call('PEXPIRE', alerted_key, ARGV[base + 2])
  out[i] = {spent, reached}
end
return out
"""


@dataclass(frozen=True, slots=True)
class BudgetAdmission:
    """``reserved``; or over (``over`` names the slot); or past a downgrade mark (``downgrade``)."""

    reserved: bool
    estimate_nano: int
    slots: tuple[BudgetSlot, ...] = ()
    over: BudgetSlot | None = None
    downgrade: BudgetSlot | None = None
    spent_nano: int = 0
    held_nano: int = 0
    redis_down: bool = False


@dataclass(frozen=True, slots=True)
class SlotSettlement:
    """A slot's spend after a settlement, and the alert shares it reached for the first time."""

    slot: BudgetSlot
    spent_nano: int
    reached: tuple[float, ...]


def _ttl_ms(slot: BudgetSlot, now_s: float) -> int:
    return _ttl_until(slot.period.end_s, now_s)


def _ttl_until(end_s: float, now_s: float) -> int:
    return max(1000, math.ceil((end_s - now_s) * 1000) + SLOT_TTL_GRACE_MS)


class BudgetBook:
    def __init__(self, config: TurnoutConfig, redis: Any, prefix: str, metrics: Metrics | None = None) -> None:
        self._metrics = metrics or Metrics()
        self._config = config
        self._rules = config.budgets
        self._prefix = prefix
        self._redis = redis
        active = redis is not None and bool(config.budgets)
        self._reserve = redis.register_script(_RESERVE) if active else None
        self._release = redis.register_script(_RELEASE) if active else None
        self._settle = redis.register_script(_SETTLE) if active else None

    @property
    def active(self) -> bool:
        return self._reserve is not None

    def slots_for(self, caller: Caller, model: str, now_s: float) -> list[BudgetSlot]:
        return budgets_for(self._rules, caller, model, now_s, self._prefix)

    def estimate_nano(self, request: ChatRequest) -> int:
        chain = [self._config.deployments[d] for d in self._config.models[request.model].deployments]
        return estimate_cost_nano(estimate_tokens(request), chain)

    async def reserve(
        self,
        caller: Caller,
        request: ChatRequest,
        request_id: str,
        deadline_us: int,
        allow_downgrade: bool = True,
        now_s: float | None = None,
    ) -> BudgetAdmission:
        """Reserve the request's estimated cost in every budget it falls under, or in none."""
        now_s = time.time() if now_s is None else now_s
        slots = tuple(self.slots_for(caller, request.model, now_s))
        estimate = self.estimate_nano(request)
        if not slots or self._reserve is None:
            return BudgetAdmission(True, estimate)
        keys: list[str] = []
        args: list[Any] = [request_id, int(now_s * 1000), deadline_us // 1000 + RESERVATION_GRACE_MS]
        args.append(1 if allow_downgrade else 0)
        for slot in slots:
            keys += [f"{slot.key}:spent", f"{slot.key}:reserved"]
            mark = slot.downgrade_nano
            args += [slot.limit_nano, estimate, -1 if mark is None else mark, _ttl_ms(slot, now_s)]
        try:
            status, index, spent, held = await self._reserve(keys=keys, args=args)
        except Exception as exc:
            log.warning("budgets unavailable (%s)", exc)
            self._metrics.inc("turnout_redis_unavailable_total", part="budgets")
            return BudgetAdmission(False, estimate, slots, redis_down=True)
        if status == 1:
            return BudgetAdmission(True, estimate, slots)
        slot = slots[int(index) - 1]
        if status == 2:
            return BudgetAdmission(False, estimate, slots, downgrade=slot, spent_nano=spent, held_nano=held)
        return BudgetAdmission(False, estimate, slots, over=slot, spent_nano=spent, held_nano=held)

    async def release(self, slot_keys: list[str], request_id: str) -> None:
        """Drop a request's reservation without spend (it failed, or made no provider call)."""
        if not slot_keys or self._release is None:
            return
        try:
            await self._release(keys=[f"{k}:reserved" for k in slot_keys], args=[request_id])
        except Exception as exc:  # it lapses at its expiry
            log.warning("could not release the budget reservation of %s (%s)", request_id, exc)

    async def settle(
        self, request_id: str, partition: int, totals: list[tuple[BudgetSlot, int]], now_s: float
    ) -> list[SlotSettlement]:
        """Publish each slot's total for ``partition`` and drop the request's reservation, in one
        step; returns each slot's spend and the alert shares it reached for the first time."""
        if not totals or self._settle is None:
            return []
        keys: list[str] = []
        args: list[Any] = [request_id, f"p{partition}"]
        for slot, total in totals:
            keys += [f"{slot.key}:spent", f"{slot.key}:reserved", f"{slot.key}:alerted"]
            marks = ",".join(str(math.ceil(slot.limit_nano * share)) for share in slot.rule.alert_at)
            args += [total, _ttl_ms(slot, now_s), marks]
        replies = await self._settle(keys=keys, args=args)
        out = []
        for (slot, _), (spent, reached) in zip(totals, replies, strict=True):
            shares = tuple(slot.rule.alert_at[int(i) - 1] for i in reached)
            out.append(SlotSettlement(slot, int(spent), shares))
        return out

    async def republish(self, entries: list[tuple[str, int, int, float]], now_s: float) -> None:
        """Write (slot key, partition, nano-USD, period end) totals again, as the ledger holds them:
        after Redis lost them, or a settlement could not reach it."""
        if not entries or self._redis is None:
            return
        pipe = self._redis.pipeline(transaction=False)
        for slot_key, partition, nano, end_s in entries:
            pipe.hset(f"{slot_key}:spent", f"p{partition}", nano)
            pipe.pexpire(f"{slot_key}:spent", _ttl_until(end_s, now_s))
        await pipe.execute()

    async def spent_nano(self, slot: BudgetSlot) -> int:
        """The slot's settled spend as the workers see it."""
        values = await self._redis.hvals(f"{slot.key}:spent")
        return sum(int(v) for v in values)
