"""The response cache's I/O: the cache stage's lookups, the offer of a finished answer, the cache
writer and the follower that keeps each worker's embedded vector store in step.

    cache stage     plan (streams.stages.cache) -> Redis GET of the exact key -> semantic probe
    output guard    a stored-worthy answer -> CacheFill on ``<prefix>.cache.fills`` (not awaited)
    cache writer    CacheFill -> Redis SET (exact, with the TTL) -> embed -> CacheEntry on the
                    compacted ``<prefix>.cache.entries`` (edge store), or an upsert (Qdrant server)
    follower        every worker reads the entries topic from its start into its embedded store

The writer is a Faust agent in the workers' group, so each fill is written once, off the request path.
A cache that fails (Redis down, a store error) is a miss, never an error: the request goes on to the
provider. Vector-store work runs on one thread of its own (lookups, upserts from the follower and
index builds, one at a time), so the event loop never waits on an embedding.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.codec import EventCodec, UndecodableEvent
from schemas.config import TurnoutConfig
from schemas.events import CacheEntry, CacheFill, CacheVerdict, ChatResponse, StageEvent, ToolCall, Usage
from streams.cache.semantic import CacheScope, SemanticCache, entry_payload, semantic_text
from streams.emitter import Emitter
from streams.invoker import now_us
from streams.metrics import Metrics
from streams.stages.answer import Answer, finish
from streams.stages.cache import CachePlan, plan_cache, redis_key
from streams.topics import TopicNames

__all__ = ["ResponseCache", "build_semantic_cache"]

log = logging.getLogger(__name__)

STORED_FINISH = ("stop", "length", "tool_calls")  # not content_filter, not an error


def build_semantic_cache(config: TurnoutConfig) -> SemanticCache:
    """The bundled MiniLM embedder over the configured store (an embedded shard, or a Qdrant server)."""
    from streams.cache.embedders import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    store_config = config.cache
    if store_config.store == "qdrant":
        from qdrant_client import QdrantClient

        from streams.cache.qdrant_store import QdrantServerStore

        client = QdrantClient(url=store_config.qdrant_url, timeout=5)
        return SemanticCache(embedder, QdrantServerStore(client, store_config.collection, embedder.dim))
    from streams.cache.edge_store import EdgeVectorStore

    return SemanticCache(embedder, EdgeVectorStore.temporary(embedder.dim))


def _answer_json(response: ChatResponse, cost_usd: float) -> str:
    """A semantic entry's answer: the response and what it cost."""
    return json.dumps({"response": asdict(response), "cost_usd": cost_usd}, separators=(",", ":"), ensure_ascii=False)


def _response_from_dict(raw: dict[str, Any]) -> ChatResponse:
    data = dict(raw)
    data["usage"] = Usage(**data["usage"])
    data["tool_calls"] = [ToolCall(**c) for c in data.get("tool_calls", [])]
    return ChatResponse(**data)


def _vector_bytes(vector: list[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _vector_from_bytes(raw: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


class ResponseCache:
    def __init__(
        self,
        config: TurnoutConfig,
        redis: Redis,
        topics: TopicNames,
        codec: EventCodec,
        semantic: SemanticCache | None = None,
        clock: Callable[[], int] = now_us,
        metrics: Metrics | None = None,
    ) -> None:
        self._config = config
        self._redis = redis
        self._topics = topics
        self._codec = codec
        self.semantic = semantic
        self._clock = clock
        self._metrics = metrics or Metrics()
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="turnout-cache-store")
        self._embed_thread = ThreadPoolExecutor(1, thread_name_prefix="turnout-cache-embed")
        self._unindexed = 0

    @classmethod
    def from_config(
        cls, config: TurnoutConfig, redis: Redis, topics: TopicNames, codec: EventCodec, metrics: Metrics | None = None
    ) -> ResponseCache | None:
        """The cache for ``config``, or ``None`` when no logical model caches."""
        modes = {m.cache.mode for m in config.models.values()}
        if modes <= {"off"}:
            return None
        semantic = build_semantic_cache(config) if "semantic" in modes else None
        return cls(config, redis, topics, codec, semantic, metrics=metrics)

    def use_config(self, config: TurnoutConfig) -> None:
        """A reloaded config: the routes' cache settings (the store stays; ``streams.reload``)."""
        self._config = config

    @property
    def follows_entries(self) -> bool:
        """Whether this worker keeps its own copy of the vectors (the embedded store)."""
        return self.semantic is not None and self._config.cache.store == "edge"

    def close(self) -> None:
        self._store_thread.shutdown(wait=True, cancel_futures=True)
        self._embed_thread.shutdown(wait=True, cancel_futures=True)
        if self.semantic is not None:
            closer = getattr(self.semantic.vectors, "close", None)
            if closer is not None:
                closer()

    def _plan(self, event: StageEvent) -> CachePlan:
        model = self._config.models.get(event.envelope.request.model)
        return plan_cache(model.cache if model is not None else None, event)

    def _redis_key(self, tenant: str, namespace: str, key: str) -> str:
        return redis_key(self._topics.prefix, tenant, namespace, key)

    async def _on_store_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._store_thread, fn, *args)

    # -- the cache stage -------------------------------------------------------------------------
    async def check(self, event: StageEvent) -> StageEvent | Answer:
        """A hit answers now; otherwise the event goes on with the verdict (and whether to store)."""
        plan = self._plan(event)
        if not plan.lookup and not plan.store:
            return replace(event, cache=plan.skipped())
        assert plan.key is not None
        if not plan.lookup:
            return replace(event, cache=plan.verdict("bypass", reason="caller"))
        now_s = self._clock() / 1e6
        tenant = event.envelope.caller.tenant
        exact = await self._exact(tenant, plan, now_s)
        if exact is not None:
            fill, age_s = exact
            verdict = CacheVerdict(
                "hit",
                similarity=1.0,
                key=plan.key,
                kind="exact",
                entry=plan.key,
                age_s=age_s,
                saved_usd=fill.cost_usd,
                namespace=plan.namespace,
            )
            return self._hit(event, verdict, fill.response)
        similarity, reason = None, plan.reason
        if plan.semantic and self.semantic is not None:
            assert plan.scope is not None and plan.query is not None
            try:
                probe = await self._on_store_thread(
                    self.semantic.probe, plan.scope, plan.query, now_s, plan.threshold, plan.max_age_s
                )
            except Exception:
                log.exception("semantic cache lookup failed; a miss")
                self._metrics.inc("turnout_cache_errors_total", part="vectors")
            else:
                similarity = probe.best_similarity
                if probe.hit is not None:
                    answer = json.loads(probe.hit.answer)
                    verdict = CacheVerdict(
                        "hit",
                        similarity=probe.hit.similarity,
                        key=plan.key,
                        kind="semantic",
                        entry=probe.hit.entry_id,
                        age_s=probe.hit.age_s,
                        saved_usd=float(answer.get("cost_usd", 0.0)),
                        namespace=plan.namespace,
                    )
                    return self._hit(event, verdict, _response_from_dict(answer["response"]))
                if probe.rejected:
                    reason = f"guard: {probe.rejected[0][1]}"
        return replace(event, cache=plan.verdict("miss", similarity, reason))

    async def _exact(self, tenant: str, plan: CachePlan, now_s: float) -> tuple[CacheFill, float] | None:
        assert plan.key is not None
        try:
            raw = await self._redis.get(self._redis_key(tenant, plan.namespace, plan.key))
        except RedisError as exc:
            log.warning("exact cache unavailable (%s); a miss", exc)
            self._metrics.inc("turnout_cache_errors_total", part="redis")
            return None
        if not isinstance(raw, bytes):  # missing (None); the client is made without decode_responses
            return None
        try:
            fill = self._codec.decode_as(CacheFill, raw)
        except UndecodableEvent:
            return None
        age_s = max(0.0, now_s - fill.at_us / 1e6)
        if age_s >= fill.ttl_s or (plan.max_age_s is not None and age_s > plan.max_age_s):
            return None
        if fill.tenant != tenant or fill.exact_key != plan.key:  # never another tenant's, whatever the key says
            return None
        return fill, age_s

    def _hit(self, event: StageEvent, verdict: CacheVerdict, response: ChatResponse) -> Answer:
        now = self._clock()
        self._metrics.inc("turnout_cache_hits_total", kind=verdict.kind or "")
        fresh = replace(response, id=f"cached-{event.envelope.request_id}", created=now // 1_000_000)
        return finish(replace(event, cache=verdict), now, response=fresh, cost_usd=0.0)

    # -- after the output guard --------------------------------------------------------------------
    def fill_for(self, event: StageEvent, answer: Answer) -> CacheFill | None:
        """What to offer the cache writer, if the answer is one to keep: a clean 200 that passed the
        guardrails, finished normally, for a request whose verdict says to store it."""
        verdict, reply = event.cache, answer.reply
        if verdict is None or not verdict.store or verdict.key is None:
            return None
        response = reply.response
        if reply.error is not None or response is None or answer.record.guard_action != "pass":
            return None
        if response.finish_reason not in STORED_FINISH or (not response.content and not response.tool_calls):
            return None
        return CacheFill(  # from the verdict the cache stage made: the plan is not computed twice
            request_id=event.envelope.request_id,
            at_us=self._clock(),
            tenant=event.envelope.caller.tenant,
            namespace=verdict.namespace,
            exact_key=verdict.key,
            ttl_s=verdict.ttl_s,
            request=event.envelope.request,
            response=response,
            cost_usd=answer.record.cost_usd,
            semantic=verdict.semantic and not response.tool_calls,
        )

    async def offer(self, event: StageEvent, answer: Answer, emitter: Emitter) -> None:
        """Send the fill, if any; its ack is not awaited (a lost fill is a lost entry, not a lost reply)."""
        fill = self.fill_for(event, answer)
        if fill is not None:
            await emitter.send(self._topics.cache_fills, fill.tenant, fill)

    # -- the cache writer ----------------------------------------------------------------------------
    async def write(self, fill: CacheFill) -> CacheEntry | None:
        """Store ``fill``: the exact entry in Redis now; for the semantic cache, the entry to publish
        (the embedded store), or ``None`` once it is upserted into the Qdrant server."""
        now_s = self._clock() / 1e6
        remaining_s = fill.at_us / 1e6 + fill.ttl_s - now_s
        if remaining_s <= 0:
            return None
        name = self._redis_key(fill.tenant, fill.namespace, fill.exact_key)
        await self._redis.set(name, self._codec.encode(fill), ex=max(1, int(remaining_s)))
        if not fill.semantic or self.semantic is None:
            return None
        model = self._config.models.get(fill.request.model)
        query = semantic_text(fill.request.messages, model.cache.multi_turn if model else "off")
        if query is None or not self.semantic.cacheable(query):
            return None
        scope = CacheScope.for_request(fill.tenant, fill.request, fill.namespace)
        embed = self.semantic.embedder.embed
        vector = (await asyncio.get_running_loop().run_in_executor(self._embed_thread, embed, [query]))[0]
        answer = _answer_json(fill.response, fill.cost_usd)
        created = fill.at_us / 1e6
        entry = CacheEntry(
            entry_id=scope.entry_id(query),
            tenant=scope.tenant,
            namespace=scope.namespace,
            model=scope.model,
            params=scope.params,
            query=query,
            answer=answer,
            created_at_s=created,
            expires_at_s=created + fill.ttl_s,
            vector=_vector_bytes(vector),
        )
        if self.follows_entries:
            return entry
        await self._on_store_thread(self._upsert, entry)
        return None

    # -- the follower ----------------------------------------------------------------------------------
    def apply_entry(self, entry: Any) -> None:
        """Queue ``entry`` for this worker's embedded store (called by the follower, on the loop)."""
        if not isinstance(entry, CacheEntry) or entry.expires_at_s <= self._clock() / 1e6:
            return
        self._store_thread.submit(self._upsert, entry)

    def _upsert(self, entry: CacheEntry) -> None:
        assert self.semantic is not None
        scope = CacheScope(entry.tenant, entry.model, entry.params, entry.namespace)
        ttl_s = entry.expires_at_s - entry.created_at_s
        payload = entry_payload(scope, entry.query, entry.answer, entry.created_at_s, ttl_s)
        try:
            self.semantic.vectors.upsert(entry.entry_id, _vector_from_bytes(entry.vector), payload)
        except Exception:
            log.exception("could not store cache entry %s", entry.entry_id)
            return
        self._unindexed += 1
        optimize = getattr(self.semantic.vectors, "optimize", None)
        if optimize is not None and self._unindexed >= self._config.cache.optimize_every:
            self._unindexed = 0
            optimize()
