"""Cache stage core: what the cache may do for one request. Pure: no Redis, no vectors, no clock.

:func:`plan_cache` reads the logical model's ``cache`` config, the caller's controls (headers) and the
request, and says whether to look up, whether to store the answer, under which exact key, and, for the
semantic cache, which text in which scope. ``streams.caching`` does the I/O the plan asks for.

Skipped (``CacheVerdict.status == "skip"``, with the reason): a model without a cache, embeddings, a
request in which the input guard found something (its text was redacted or is under watch: an answer
to it is not shared), tools when the route keeps them out, and a caller who turned both lookup and
store off. A caller who turns only the lookup off (``Cache-Control: no-cache``) gets ``bypass``: a fresh
answer, which is then stored. The semantic part also needs a plain last user turn
(:func:`streams.cache.semantic.semantic_text`), no tools, and a temperature at or below the route's
``max_temperature``; otherwise the exact cache alone applies.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.config import CacheConfig
from schemas.events import CacheControl, CacheVerdict, StageEvent
from streams.cache.semantic import CacheScope, exact_key, semantic_allowed, semantic_text

__all__ = ["CachePlan", "plan_cache", "redis_key"]


@dataclass(frozen=True, slots=True)
class CachePlan:
    lookup: bool
    store: bool
    reason: str | None = None
    namespace: str = ""
    key: str | None = None  # the exact-match key
    scope: CacheScope | None = None  # set when the semantic cache applies
    query: str | None = None
    threshold: float = 1.0
    ttl_s: int = 0
    max_age_s: int | None = None

    def verdict(self, status: str, similarity: float | None = None, reason: str | None = None) -> CacheVerdict:
        """A miss or a bypass: what the output guard needs to offer the answer (key, TTL, semantic)."""
        return CacheVerdict(
            status,
            similarity=similarity,
            key=self.key,
            reason=reason,
            store=self.store,
            namespace=self.namespace,
            ttl_s=self.ttl_s,
            semantic=self.semantic,
        )

    def skipped(self) -> CacheVerdict:
        return CacheVerdict(status="skip", reason=self.reason, namespace=self.namespace)

    @property
    def semantic(self) -> bool:
        return self.scope is not None and self.query is not None


_NO_CACHE = CachePlan(lookup=False, store=False, reason="off")


def plan_cache(config: CacheConfig | None, event: StageEvent) -> CachePlan:
    """What the cache may do for ``event``: see the module's docstring."""
    if config is None or config.mode == "off":
        return _NO_CACHE
    envelope = event.envelope
    request = envelope.request
    control = envelope.cache_control or CacheControl()
    namespace = control.namespace or config.namespace

    def skip(reason: str) -> CachePlan:
        return CachePlan(lookup=False, store=False, reason=reason, namespace=namespace)

    if envelope.embeddings is not None:
        return skip("embeddings")
    if not request.messages:
        return skip("empty")
    if event.input_guard is not None and event.input_guard.action != "pass":
        return skip("guarded")
    if request.tools_json is not None and not config.tools:
        return skip("tools")
    if not control.lookup and not control.store:
        return skip("caller")
    tenant = envelope.caller.tenant
    scope = query = reason = None
    if config.mode == "semantic":  # the reason the semantic part does not apply, if it does not
        if request.tools_json is not None:
            reason = "semantic: tools"
        elif not semantic_allowed(request.temperature, config.max_temperature, config.default_temperature):
            reason = "semantic: temperature"
        else:
            query = semantic_text(request.messages, config.multi_turn)
            if query is None:
                reason = "semantic: not a plain last user turn"
            else:
                scope = CacheScope.for_request(tenant, request, namespace)
    return CachePlan(
        lookup=control.lookup,
        store=control.store,
        reason=reason,
        namespace=namespace,
        key=exact_key(tenant, request),
        scope=scope,
        query=query,
        threshold=control.threshold if control.threshold is not None else config.threshold,
        ttl_s=min(control.ttl_s, config.ttl_s) if control.ttl_s is not None else config.ttl_s,
        max_age_s=control.max_age_s,
    )


def redis_key(prefix: str, tenant: str, namespace: str, key: str) -> str:
    """Where an exact entry lives in Redis. The key already hashes the tenant; the tenant in the
    name lets an operator drop one tenant's entries (``SCAN`` + ``DEL`` on the pattern)."""
    return f"{prefix}:cache:{tenant}:{namespace}:{key}"
