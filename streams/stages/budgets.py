"""Budget core: which budgets a request falls under, their current period, and what it may cost.

A budget allows ``usd`` of spend per scope value (each user, team, feature, key, tenant, or one
global total) per period: a UTC calendar day or month, or a fixed window of ``window_s``. Amounts
are integers of nano-USD (1e-9 USD), so sums are exact.

Before a call the request's estimated cost is reserved against every budget it falls under; a
request is admitted only if ``spent + reserved + estimate <= limit`` for each of them. After the
call the real cost is settled and the reservation released in one step. So the spend can pass a
budget only by what estimates missed: at most the sum, over the requests in flight together, of
``actual - estimate`` where that is positive. The estimate (see ``estimate_cost_nano``) takes the
dearest deployment of the model's chain and ``max_tokens`` as the output, so with ``max_tokens``
set it is an upper bound and the budget is not passed at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.config import BudgetRule, DeploymentConfig
from schemas.events import Caller
from streams.stages.limits import TokenEstimate, applies_to, scope_value

__all__ = [
    "NANO_PER_USD",
    "BudgetSlot",
    "Period",
    "budgets_for",
    "estimate_cost_nano",
    "period_of",
    "to_nano",
]

NANO_PER_USD = 1_000_000_000


def to_nano(usd: float) -> int:
    return round(usd * NANO_PER_USD)


@dataclass(frozen=True, slots=True)
class Period:
    """One period of a budget: ``[start_s, end_s)``, named by ``id`` (``2026-12-01``, ``2026-12``,
    or the window's number)."""

    id: str
    start_s: float
    end_s: float


def period_of(rule: BudgetRule, now_s: float) -> Period:
    if rule.window_s is not None:
        window = int(now_s // rule.window_s)
        return Period(f"w{rule.window_s}-{window}", window * rule.window_s, (window + 1) * rule.window_s)
    now = datetime.fromtimestamp(now_s, tz=UTC)
    if rule.period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Period(start.strftime("%Y-%m-%d"), start.timestamp(), start.timestamp() + 86400)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return Period(start.strftime("%Y-%m"), start.timestamp(), end.timestamp())


@dataclass(frozen=True, slots=True)
class BudgetSlot:
    """One budget, for one scope value, in its current period: where its spend is kept."""

    rule: BudgetRule
    scope_value: str
    period: Period
    key: str  # the prefix of this slot's Redis keys and its ledger entries

    @property
    def limit_nano(self) -> int:
        return to_nano(self.rule.usd)

    @property
    def downgrade_nano(self) -> int | None:
        at = self.rule.downgrade_at
        return None if at is None else math.floor(self.limit_nano * at)

    def describe(self) -> str:
        period = f"per {self.rule.window_s} s" if self.rule.window_s else f"per {self.rule.period}"
        return f"`{self.rule.name}` ({self.rule.scope} {self.scope_value}, ${self.rule.usd:g} {period})"


def budgets_for(
    rules: tuple[BudgetRule, ...], caller: Caller, model: str, now_s: float, prefix: str
) -> list[BudgetSlot]:
    """Every budget the request falls under, in config order; rules that do not apply are left out."""
    slots = []
    for rule in rules:
        if not applies_to(rule, caller, model):
            continue
        value = scope_value(rule.scope, caller, model)
        if value is None:
            continue
        period = period_of(rule, now_s)
        slots.append(BudgetSlot(rule, value, period, f"{prefix}:budget:{rule.name}:{value}:{period.id}"))
    return slots


def estimate_cost_nano(estimate: TokenEstimate, chain: list[DeploymentConfig]) -> int:
    """What the request may cost on the dearest deployment of its chain (any of them may serve it),
    rounded up."""
    worst = max(
        estimate.prompt * d.input_usd_per_mtok + estimate.output * d.output_usd_per_mtok for d in chain
    )  # micro-USD
    return math.ceil(worst * 1000)
