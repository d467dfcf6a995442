"""Routing policies as tables: tier, a sticky weighted split, complexity; and bad routing configs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from schemas.config import ConfigError, RoutingConfig, parse_config
from schemas.events import Caller, ChatMessage, ChatRequest, RequestEvent, StageEvent
from streams.routing.classifier import ComplexityModel
from streams.stages.route import choose_model, decide_route

MODEL = ComplexityModel.load()
FREE = Caller(tenant="acme", team="t", user="ann", tier="free", key_id="k")
PAID = Caller(tenant="acme", team="t", user="bob", tier="paid", key_id="k")
SIMPLE = "What's the capital of Portugal?"
COMPLEX = (
    "Prove that there are infinitely many primes of the form 4k+3, and explain where the argument for "
    "4k+1 breaks down. Then derive the time complexity of the sieve of Eratosthenes step by step."
)


def chat(text: str, model: str = "auto-chat") -> ChatRequest:
    return ChatRequest(model=model, messages=[ChatMessage(role="user", content=text)])


@pytest.mark.parametrize(
    ("routing", "caller", "text", "model", "reason"),
    [
        (None, PAID, COMPLEX, "auto-chat", "primary"),
        (RoutingConfig(simple="cheap"), PAID, SIMPLE, "cheap", "simple"),
        (RoutingConfig(simple="cheap"), PAID, COMPLEX, "auto-chat", "complex"),
        (RoutingConfig(simple="cheap", complexity_threshold=0.0001), PAID, SIMPLE, "auto-chat", "complex"),
        (RoutingConfig(simple="cheap", tiers={"free": "cheap"}), FREE, COMPLEX, "cheap", "tier:free"),
        (RoutingConfig(simple="cheap", tiers={"free": "cheap"}), PAID, COMPLEX, "auto-chat", "complex"),
        (RoutingConfig(weights={"cheap": 1.0}), PAID, COMPLEX, "cheap", "weight"),
    ],
)
def test_the_first_policy_that_applies_decides(
    routing: RoutingConfig | None, caller: Caller, text: str, model: str, reason: str
) -> None:
    choice = choose_model("auto-chat", routing, caller, chat(text), MODEL)
    assert (choice.model, choice.reason) == (model, reason)
    assert (choice.score is not None) == (reason in ("simple", "complex"))


def test_a_weighted_split_is_sticky_per_user_and_follows_the_weights() -> None:
    routing = RoutingConfig(weights={"auto-chat": 3.0, "cheap": 1.0})
    users = [Caller(tenant="acme", team="t", user=f"u{i}", tier="paid", key_id="k") for i in range(4000)]
    first = [choose_model("auto-chat", routing, u, chat(SIMPLE), MODEL).model for u in users]
    again = [choose_model("auto-chat", routing, u, chat(COMPLEX), MODEL).model for u in users]
    assert first == again  # the same user lands on the same side, whatever the prompt
    share = Counter(first)["cheap"] / len(users)
    assert 0.22 < share < 0.28  # a quarter, within sampling noise


def config_with(routing: dict[str, Any], example_data: dict[str, Any]) -> Any:
    example_data["models"]["auto-chat"] = {"deployments": ["sim-gpt-4o"], "routing": routing}
    return parse_config(example_data)


def test_the_decision_names_the_serving_model_its_chain_and_the_score(example_data: dict[str, Any]) -> None:
    config = config_with({"simple": "best-cheap-chat"}, example_data)
    caller = Caller(tenant="acme", team="platform", user="demo-user", tier="paid", key_id="demo")
    envelope = RequestEvent("r", "x", "http", 0, 2**62, caller, chat(SIMPLE))
    decision = decide_route(config, StageEvent(stage="cache", envelope=envelope), MODEL)
    assert (decision.logical_model, decision.deployment, decision.reason) == (
        "best-cheap-chat",
        "sim-gpt-4o-mini",
        "simple",
    )
    assert decision.score is not None and 0 <= decision.score < MODEL.threshold


@pytest.mark.parametrize(
    ("routing", "message"),
    [
        ({"simple": "no-such-model"}, "unknown model 'no-such-model'"),
        ({"tiers": {"free": "smart-chat-routed"}}, "routes again"),
        ({"weights": {"best-cheap-chat": -1}}, "weights must be"),
    ],
)
def test_bad_routing_is_refused_with_the_key_path(
    routing: dict[str, Any], message: str, example_data: dict[str, Any]
) -> None:
    example_data["models"]["smart-chat-routed"] = {
        "deployments": ["sim-gpt-4o"],
        "routing": {"simple": "best-cheap-chat"},
    }
    with pytest.raises(ConfigError, match=message):
        config_with(routing, example_data)
