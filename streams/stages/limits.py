"""Rate-limit core: which counters a request touches, and how much it takes from each.

Limits are fixed windows: a rule allows ``requests`` (and/or ``tokens``) per window of
``window_s`` seconds, counted per scope value (each user, team, feature, key, tenant, model, or one
global count). Fixed windows are exact within a window (N allowed means N admitted, across every
worker, because one Redis script checks and takes from all counters together); across a window
boundary a caller can get up to 2N in a short span, which is the documented bound.

Token limits charge an estimate before the call (prompt characters / 4, plus ``max_tokens`` or
``DEFAULT_OUTPUT_ESTIMATE``) and settle with the provider's real usage afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from schemas.config import LimitRule
from schemas.events import Caller, ChatRequest

__all__ = ["DEFAULT_OUTPUT_ESTIMATE", "Counter", "counters_for", "estimate_tokens"]

DEFAULT_OUTPUT_ESTIMATE = 1024


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


def estimate_tokens(request: ChatRequest) -> int:
    chars = sum(len(m.content or m.parts_json or "") for m in request.messages)
    chars += len(request.tools_json or "")
    return math.ceil(chars / 4) + (request.max_tokens or DEFAULT_OUTPUT_ESTIMATE)


def _scope_value(rule: LimitRule, caller: Caller, model: str) -> str | None:
    if rule.scope == "global":
        return "all"
    if rule.scope == "model":
        return model
    if rule.scope == "feature":
        return f"{caller.tenant}/{caller.feature}" if caller.feature else None
    if rule.scope == "tenant":
        return caller.tenant
    value = {"user": caller.user, "team": caller.team, "key": caller.key_id}[rule.scope]
    return f"{caller.tenant}/{value}"  # tenants never share a counter


def counters_for(
    rules: tuple[LimitRule, ...], caller: Caller, model: str, estimated_tokens: int, now_s: float, prefix: str
) -> list[Counter]:
    """Every counter the request takes from, with its cost; rules that do not apply are left out."""
    counters = []
    for rule in rules:
        if (rule.tier is not None and rule.tier != caller.tier) or (rule.model is not None and rule.model != model):
            continue
        scope = _scope_value(rule, caller, model)
        if scope is None:
            continue
        window = int(now_s // rule.window_s)
        ends = (window + 1) * rule.window_s
        for kind, limit, cost in (("requests", rule.requests, 1), ("tokens", rule.tokens, estimated_tokens)):
            if limit is not None:
                key = f"{prefix}:limit:{rule.name}:{kind}:{scope}:{window}"
                counters.append(Counter(key, rule.name, kind, limit, cost, rule.window_s, ends))
    return counters
