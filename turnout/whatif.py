"""What a candidate's guardrail and cache settings would have done to a recorded window, for the dry
replay (``turnout.replay``). No provider is called, nothing is stored outside this process.

- **Guardrails.** Each recorded request (the text the caller sent, from the request topic) goes
  through the live and the candidate config's input guardrails (``streams.stages.input_guard``):
  how many each would pass, redact, flag or block, and which requests change.
- **Cache.** The window is played in the order it arrived through the candidate's cache settings
  (``streams.stages.cache.plan_cache``: modes, TTLs, namespaces, thresholds, the callers' own cache
  controls), against an empty cache of this process: an exact entry per key, and for semantic routes
  the bundled MiniLM over a temporary embedded store with the same near-miss guards as live. A hit
  is a request the candidate would have answered without a provider call; it saves what the
  candidate's route would have cost for it. A hit stores nothing; a miss stores what the route allows.

Both are deterministic: the same window and candidate give the same figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.config import LogicalModelConfig, TurnoutConfig
from schemas.events import GuardVerdict, RequestEvent, StageEvent
from streams.cache.semantic import SemanticCache
from streams.guards.banned import BannedPatterns
from streams.stages.cache import plan_cache
from streams.stages.input_guard import check_input

__all__ = ["CacheWhatIf", "guard_action", "guardrails_what_if"]

LISTED = 50  # changed requests listed in a report, at most


def _patterns(model: LogicalModelConfig) -> BannedPatterns | None:
    banned = model.guardrails.banned
    return BannedPatterns(banned.patterns, banned.keywords) if banned.patterns or banned.keywords else None


def guard_check(config: TurnoutConfig, event: RequestEvent) -> tuple[str, GuardVerdict | None]:
    """The input guardrails' action for ``event`` under ``config`` (``block: <guardrail>`` when one
    blocks), and the verdict the cache stage would see."""
    model = config.models.get(event.request.model)
    if model is None:
        return "unknown model", None
    checked = check_input(event.request, model.guardrails, _patterns(model))
    if checked.blocked_by is not None:
        return f"block: {checked.blocked_by.guardrail}", checked.verdict
    return checked.verdict.action, checked.verdict


def guard_action(config: TurnoutConfig, event: RequestEvent) -> str:
    return guard_check(config, event)[0]


def guardrails_what_if(
    live: TurnoutConfig,
    candidate: TurnoutConfig,
    events: Sequence[RequestEvent],
    checked: Mapping[str, tuple[str, GuardVerdict | None]] | None = None,
) -> dict[str, Any]:
    """Actions per request under the live and the candidate guardrails, and the requests that change.
    ``checked``: the candidate's :func:`guard_check` per request id, when the caller has it already."""
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    changed: list[dict[str, str]] = []
    for event in events:
        known = checked.get(event.request_id) if checked is not None else None
        was, now = guard_action(live, event), known[0] if known else guard_action(candidate, event)
        before[was] += 1
        after[now] += 1
        if was != now:
            changed.append({"request_id": event.request_id, "from": was, "to": now})
    return {
        "before": dict(sorted(before.items())),
        "after": dict(sorted(after.items())),
        "changed": len(changed),
        "changed_requests": changed[:LISTED],
    }


@dataclass
class CacheWhatIf:
    """The window through the candidate's cache settings; ``semantic_cache`` builds the semantic part
    (the bundled MiniLM over a temporary store) when a route needs it."""

    candidate: TurnoutConfig
    semantic_cache: Callable[[], SemanticCache] | None = None
    lookups: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    saved_usd: float = 0.0
    skipped: Counter[str] = field(default_factory=Counter)
    hits: list[dict[str, Any]] = field(default_factory=list)
    _exact: dict[tuple[str, str, str], tuple[float, float]] = field(default_factory=dict)  # -> (stored, expires)
    _semantic: SemanticCache | None = None

    @property
    def active(self) -> bool:
        return any(m.cache.mode != "off" for m in self.candidate.models.values())

    def offer(self, event: RequestEvent, verdict: GuardVerdict | None, would_cost_usd: float) -> str | None:
        """Play one request that passed the candidate's input guardrails (``verdict``: what they
        found); ``exact`` or ``semantic`` when the cache would have answered it."""
        model = self.candidate.models.get(event.request.model)
        if model is None or model.cache.mode == "off":
            self.skipped["off"] += 1
            return None
        plan = plan_cache(model.cache, StageEvent(stage="cache", envelope=event, input_guard=verdict))
        if not plan.lookup and not plan.store:
            self.skipped[plan.reason or "skip"] += 1
            return None
        assert plan.key is not None
        now_s = event.received_at_us / 1e6
        tenant = event.caller.tenant
        exact_key = (tenant, plan.namespace, plan.key)
        kind = None
        if plan.lookup:
            self.lookups += 1
            stored = self._exact.get(exact_key)
            fresh = stored is not None and stored[1] > now_s
            if fresh and stored is not None and (plan.max_age_s is None or now_s - stored[0] <= plan.max_age_s):
                kind = "exact"
            elif plan.semantic:
                assert plan.scope is not None and plan.query is not None
                probe = self._semantic_cache().probe(plan.scope, plan.query, now_s, plan.threshold, plan.max_age_s)
                if probe.hit is not None:
                    kind = "semantic"
        if kind is not None:
            self.exact_hits += kind == "exact"
            self.semantic_hits += kind == "semantic"
            self.saved_usd += would_cost_usd
            if len(self.hits) < LISTED:
                self.hits.append({"request_id": event.request_id, "kind": kind, "saved_usd": round(would_cost_usd, 9)})
            return kind
        if plan.store:
            self._exact[exact_key] = (now_s, now_s + plan.ttl_s)
            if plan.semantic:
                assert plan.scope is not None and plan.query is not None
                self._semantic_cache().store(plan.scope, plan.query, "", plan.ttl_s, now_s)
        return None

    def _semantic_cache(self) -> SemanticCache:
        if self._semantic is None:
            self._semantic = (self.semantic_cache or _bundled_semantic_cache)()
        return self._semantic

    def close(self) -> None:
        if self._semantic is not None:
            closer = getattr(self._semantic.vectors, "close", None)
            if closer is not None:
                closer()

    def summary(self) -> dict[str, Any]:
        hits = self.exact_hits + self.semantic_hits
        return {
            "lookups": self.lookups,
            "exact_hits": self.exact_hits,
            "semantic_hits": self.semantic_hits,
            "hit_rate": round(hits / self.lookups, 4) if self.lookups else 0.0,
            "saved_usd": round(self.saved_usd, 9),
            "skipped": dict(sorted(self.skipped.items())),
            "hits": self.hits,
        }


def _bundled_semantic_cache() -> SemanticCache:
    from streams.cache.edge_store import EdgeVectorStore
    from streams.cache.embedders import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    return SemanticCache(embedder, EdgeVectorStore.temporary(embedder.dim))
