"""Rate-limit core: which counters a request touches, and how much it takes from each.

Limits are fixed windows: a rule allows ``requests`` (and/or ``tokens``) per window of
``window_s`` seconds, counted per scope value (each user, team, feature, key, tenant, model, or one
global count). Fixed windows are exact within a window (N allowed means N admitted, across every
worker, because one Redis script checks and takes from all counters together); across a window
boundary a caller can get up to 2N in a short span, which is the documented bound.

Token limits charge an estimate before the call (prompt characters / 4 plus
``TOKENS_PER_MESSAGE`` for each message, plus ``max_tokens`` or ``DEFAULT_OUTPUT_ESTIMATE``) and
settle with the provider's real usage afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas.config import BudgetRule, LimitRule
from schemas.events import Caller, ChatRequest

__all__ = [
    "DEFAULT_OUTPUT_ESTIMATE",
    "TOKENS_PER_MESSAGE",
    "Counter",
    "TokenEstimate",
    "applies_to",
    "counters_for",
    "estimate_tokens",
    "scope_value",
]

DEFAULT_OUTPUT_ESTIMATE = 1024
TOKENS_PER_MESSAGE = 4  # the role and the framing each message costs (OpenAI's chat format)


@dataclass(frozen=True, slots=True)
class Counter:
    """One fixed-window counter a request takes from."""

    key: str
    rule: str
    kind: str  # "requests" or "tokens"
    limit: int
    cost: int
    window_s: int
    window_ends_at_s: float


@dataclass(frozen=True, slots=True)
class TokenEstimate:
    """A request's tokens counted before the call: its prompt, and the most it may write."""

    prompt: int
    output: int

    @property
    def total(self) -> int:
        return self.prompt + self.output


def estimate_tokens(request: ChatRequest) -> TokenEstimate:
    chars = sum(len(m.content or m.parts_json or "") for m in request.messages)
    chars += len(request.tools_json or "")
    prompt = math.ceil(chars / 4) + TOKENS_PER_MESSAGE * len(request.messages)
    return TokenEstimate(prompt, request.max_tokens or DEFAULT_OUTPUT_ESTIMATE)


def applies_to(rule: LimitRule | BudgetRule, caller: Caller, model: str) -> bool:
    """Whether a limit or budget filtered by tier and logical model covers this request."""
    return (rule.tier is None or rule.tier == caller.tier) and (rule.model is None or rule.model == model)


def scope_value(scope: str, caller: Caller, model: str) -> str | None:
    """The value a limit or budget of ``scope`` counts by; None when the request has none (no feature)."""
    if scope == "global":
        return "all"
    if scope == "model":
        return model
    if scope == "feature":
        return f"{caller.tenant}/{caller.feature}" if caller.feature else None
    if scope == "tenant":
        return caller.tenant
    value = {"user": caller.user, "team": caller.team, "key": caller.key_id}[scope]
    return f"{caller.tenant}/{value}"  # tenants never share a counter


def counters_for(
    rules: tuple[LimitRule, ...], caller: Caller, model: str, estimated_tokens: int, now_s: float, prefix: str
) -> list[Counter]:
    """Every counter the request takes from, with its cost; rules that do not apply are left out."""
    counters = []
    for rule in rules:
        if not applies_to(rule, caller, model):
            continue
        scope = scope_value(rule.scope, caller, model)
        if scope is None:
            continue
        window = int(now_s // rule.window_s)
        ends = (window + 1) * rule.window_s
        for kind, limit, cost in (("requests", rule.requests, 1), ("tokens", rule.tokens, estimated_tokens)):
            if limit is not None:
                key = f"{prefix}:limit:{rule.name}:{kind}:{scope}:{window}"
                counters.append(Counter(key, rule.name, kind, limit, cost, rule.window_s, ends))
    return counters
