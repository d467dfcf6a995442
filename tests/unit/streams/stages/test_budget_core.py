"""Budgets as tables: which budgets a request falls under, their periods, and the cost estimate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.config import BudgetRule, DeploymentConfig
from schemas.events import Caller
from streams.stages.budgets import budgets_for, estimate_cost_nano, period_of, to_nano
from streams.stages.limits import TokenEstimate

ANN = Caller(tenant="acme", team="search", user="ann", tier="free", key_id="k1", feature="autocomplete")
BOB = Caller(tenant="globex", team="search", user="ann", tier="paid", key_id="k2")


def budget(**kw: object) -> BudgetRule:
    return BudgetRule.model_validate({"name": "b", "scope": "user", "usd": 5, "period": "day", **kw})


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("rule", "now", "period_id", "start", "end"),
    [
        (budget(period="day"), at(2026, 12, 1, 18, 30), "2026-12-01", at(2026, 12, 1), at(2026, 12, 2)),
        (budget(period="day"), at(2026, 12, 31, 23, 59), "2026-12-31", at(2026, 12, 31), at(2027, 1, 1)),
        (budget(period="month"), at(2026, 2, 14, 9), "2026-02", at(2026, 2, 1), at(2026, 3, 1)),
        (budget(period="month"), at(2026, 12, 31, 23), "2026-12", at(2026, 12, 1), at(2027, 1, 1)),
        (budget(period=None, window_s=60), 125.0, "w60-2", 120.0, 180.0),
    ],
)
def test_periods(rule: BudgetRule, now: float, period_id: str, start: float, end: float) -> None:
    period = period_of(rule, now)
    assert (period.id, period.start_s, period.end_s) == (period_id, start, end)


@pytest.mark.parametrize(
    ("rule", "caller", "model", "scope_value"),
    [
        (budget(scope="user"), ANN, "m", "acme/ann"),
        (budget(scope="user"), BOB, "m", "globex/ann"),  # same user name, other tenant: another budget
        (budget(scope="team"), ANN, "m", "acme/search"),
        (budget(scope="feature"), ANN, "m", "acme/autocomplete"),
        (budget(scope="key"), ANN, "m", "acme/k1"),
        (budget(scope="tenant"), ANN, "m", "acme"),
        (budget(scope="global"), ANN, "m", "all"),
        (budget(scope="feature"), BOB, "m", None),  # no feature header: no feature budget
        (budget(scope="user", tier="paid"), ANN, "m", None),
        (budget(scope="user", tier="paid"), BOB, "m", "globex/ann"),
        (budget(scope="user", model="smart-chat"), ANN, "m", None),
        (budget(scope="user", model="smart-chat"), ANN, "smart-chat", "acme/ann"),
    ],
)
def test_which_budgets_apply(rule: BudgetRule, caller: Caller, model: str, scope_value: str | None) -> None:
    slots = budgets_for((rule,), caller, model, at(2026, 12, 1, 12), "p")
    assert [s.scope_value for s in slots] == ([scope_value] if scope_value else [])
    if slots:
        assert slots[0].key == f"p:budget:b:{scope_value}:2026-12-01"


def test_a_slot_knows_its_limit_and_downgrade_mark() -> None:
    (slot,) = budgets_for((budget(usd=2.5, downgrade_at=0.8),), ANN, "m", 0.0, "p")
    assert slot.limit_nano == 2_500_000_000
    assert slot.downgrade_nano == 2_000_000_000
    assert "`b` (user acme/ann, $2.5 per day)" in slot.describe()


def test_the_estimate_takes_the_dearest_deployment_of_the_chain() -> None:
    cheap = DeploymentConfig(provider="p", model="a", input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    dear = DeploymentConfig(provider="p", model="b", input_usd_per_mtok=2.5, output_usd_per_mtok=10.0)
    estimate = TokenEstimate(prompt=5, output=20)
    assert estimate_cost_nano(estimate, [cheap]) == 12_750  # 5 * 0.15 + 20 * 0.60 micro-USD
    assert estimate_cost_nano(estimate, [cheap, dear]) == 212_500  # 5 * 2.5 + 20 * 10
    assert to_nano(0.0002125) == 212_500


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"period": None}, "exactly one of period"),
        ({"window_s": 60}, "exactly one of period"),
        ({"alert_at": [0.5, 1.5]}, "alert_at"),
        ({"usd": 0}, "greater than 0"),
        ({"webhook_url": "ftp://x"}, "pattern"),
    ],
)
def test_bad_budget_rules_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        budget(**fields)
