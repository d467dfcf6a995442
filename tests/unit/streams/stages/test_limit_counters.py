"""Which counters a request takes from, as a table."""

from __future__ import annotations

import pytest

from schemas.config import LimitRule
from schemas.events import Caller, ChatMessage, ChatRequest
from streams.stages.limits import DEFAULT_OUTPUT_ESTIMATE, counters_for, estimate_tokens

FREE = Caller(tenant="acme", team="search", user="ann", tier="free", key_id="k1", feature="autocomplete")
PAID = Caller(tenant="globex", team="search", user="ann", tier="paid", key_id="k2")


def rule(**kw: object) -> LimitRule:
    return LimitRule.model_validate({"name": "r", "requests": 10, "window_s": 60, **kw})


@pytest.mark.parametrize(
    ("limit", "caller", "scope_key"),
    [
        (rule(scope="user"), FREE, "acme/ann"),
        (rule(scope="user"), PAID, "globex/ann"),  # same user name, other tenant: another counter
        (rule(scope="team"), FREE, "acme/search"),
        (rule(scope="key"), FREE, "acme/k1"),
        (rule(scope="tenant"), FREE, "acme"),
        (rule(scope="feature"), FREE, "acme/autocomplete"),
        (rule(scope="model"), FREE, "smart-chat"),
        (rule(scope="global"), FREE, "all"),
    ],
)
def test_scope_keys(limit: LimitRule, caller: Caller, scope_key: str) -> None:
    (counter,) = counters_for((limit,), caller, "smart-chat", 100, now_s=125.0, prefix="p")
    assert counter.key == f"p:limit:r:requests:{scope_key}:2"  # window 2 = [120, 180)
    assert (counter.limit, counter.cost, counter.window_ends_at_s) == (10, 1, 180)


@pytest.mark.parametrize(
    ("limit", "applies"),
    [
        (rule(scope="user", tier="free"), True),
        (rule(scope="user", tier="paid"), False),
        (rule(scope="user", model="smart-chat"), True),
        (rule(scope="user", model="other"), False),
    ],
)
def test_tier_and_model_filters(limit: LimitRule, applies: bool) -> None:
    assert bool(counters_for((limit,), FREE, "smart-chat", 100, 0.0, "p")) is applies


def test_a_feature_rule_skips_requests_without_a_feature() -> None:
    assert counters_for((rule(scope="feature"),), PAID, "m", 100, 0.0, "p") == []


def test_request_and_token_counters_of_one_rule() -> None:
    both = rule(scope="user", requests=5, tokens=1000)
    counters = counters_for((both,), FREE, "m", 321, 0.0, "p")
    assert [(c.kind, c.limit, c.cost) for c in counters] == [("requests", 5, 1), ("tokens", 1000, 321)]


def test_a_rule_must_count_something() -> None:
    with pytest.raises(ValueError, match="requests, tokens or both"):
        LimitRule.model_validate({"name": "r", "scope": "user"})


@pytest.mark.parametrize(
    ("request_", "estimate"),
    [
        (ChatRequest(model="m", messages=[ChatMessage("user", "x" * 40)], max_tokens=50), 10 + 4 + 50),
        (ChatRequest(model="m", messages=[ChatMessage("user", "abc")]), 1 + 4 + DEFAULT_OUTPUT_ESTIMATE),
        (
            ChatRequest(model="m", messages=[ChatMessage("system", "x" * 8), ChatMessage("user", "y" * 4)]),
            3 + 2 * 4 + DEFAULT_OUTPUT_ESTIMATE,
        ),
    ],
)
def test_token_estimate(request_: ChatRequest, estimate: int) -> None:
    assert estimate_tokens(request_).total == estimate
