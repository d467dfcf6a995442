"""The response cache against the real Redis, the bundled MiniLM and the embedded Qdrant engine (and
qdrant-client's own engine behind the server store): the cache stage's lookups, the fills the output
guard offers, the writer and the follower, and every way a hit must be refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aioredis

from schemas.codec import EventCodec
from schemas.config import TurnoutConfig, parse_config
from schemas.events import (
    CacheControl,
    CacheEntry,
    Caller,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    RequestEvent,
    StageEvent,
    Usage,
)
from streams.cache.edge_store import EdgeVectorStore
from streams.cache.embedders import MiniLMEmbedder
from streams.cache.semantic import SemanticCache
from streams.caching import ResponseCache
from streams.metrics import Metrics
from streams.stages.answer import Answer, finish
from streams.topics import TopicNames
from tests.conftest import REDIS

T0_US = 1_796_000_000 * 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now_us = T0_US

    def __call__(self) -> int:
        self.now_us += 10
        return self.now_us


def config(store: str = "edge", **cache: Any) -> TurnoutConfig:
    return parse_config(
        {
            "providers": {"p": {"base_url": "http://127.0.0.1:9/v1"}},
            "deployments": {"d": {"provider": "p", "model": "m", "input_usd_per_mtok": 1, "output_usd_per_mtok": 1}},
            "models": {
                "m": {"deployments": ["d"], "cache": {"mode": "semantic", "ttl_s": 600, **cache}},
                "exact-only": {"deployments": ["d"], "cache": {"mode": "exact"}},
                "uncached": {"deployments": ["d"]},
            },
            "cache": {"store": store, **({"qdrant_url": "http://127.0.0.1:9"} if store == "qdrant" else {})},
            "keys": [{"id": "k", "key_sha256": "0" * 64, "tenant": "acme", "team": "t", "user": "u"}],
        }
    )


def event(
    text: str,
    tenant: str = "acme",
    model: str = "m",
    control: CacheControl | None = None,
    **request: Any,
) -> StageEvent:
    chat = ChatRequest(model=model, messages=[ChatMessage(role="user", content=text)], temperature=0.0, **request)
    envelope = RequestEvent(
        request_id=uuid.uuid4().hex,
        reply_to="r",
        source="kafka",
        received_at_us=T0_US,
        deadline_at_us=T0_US + 60_000_000,
        caller=Caller(tenant=tenant, team="t", user="u", tier="free", key_id="k"),
        request=chat,
        cache_control=control,
    )
    return StageEvent(stage="input_guard", envelope=envelope)


def answered(looked_up: StageEvent, content: str, cost_usd: float = 0.002, **record: Any) -> Answer:
    response = ChatResponse("x", content, "stop", Usage(10, 5, 0, 15), "m-2026", 1)
    answer = finish(looked_up, T0_US, response=response, cost_usd=cost_usd)
    return replace(answer, record=replace(answer.record, **record)) if record else answer


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
def prefix() -> str:
    return f"rc-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_cache(embedder: MiniLMEmbedder, prefix: str) -> Iterator[Callable[..., ResponseCache]]:
    made: list[ResponseCache] = []

    def make(
        cfg: TurnoutConfig | None = None, redis_url: str = REDIS, semantic: SemanticCache | None = None
    ) -> ResponseCache:
        cfg = cfg or config()
        vectors = semantic or SemanticCache(embedder, EdgeVectorStore.temporary(embedder.dim), threshold=0.80)
        redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        cache = ResponseCache(cfg, redis, TopicNames(prefix), EventCodec(), vectors, clock=Clock(), metrics=Metrics())
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


async def remember(
    cache: ResponseCache, looked_up: StageEvent, content: str, cost_usd: float = 0.002
) -> CacheEntry | None:
    """What the output guard and the writer do with an answer; the follower's part for the edge store."""
    fill = cache.fill_for(looked_up, answered(looked_up, content, cost_usd))
    assert fill is not None
    entry = await cache.write(fill)
    if entry is not None:
        cache.apply_entry(entry)
    return entry


async def miss(cache: ResponseCache, ev: StageEvent) -> StageEvent:
    result = await cache.check(ev)
    assert isinstance(result, StageEvent), f"expected a miss, got {result.reply.cache}"
    return result


async def hit(cache: ResponseCache, ev: StageEvent) -> Answer:
    result = await cache.check(ev)
    assert isinstance(result, Answer), f"expected a hit, got {result.cache}"
    return result


async def test_exact_hit_replays_the_answer_and_says_what_it_saved(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    first = await miss(cache, event("Summarise the plot of Hamlet in one line."))
    assert first.cache is not None and (first.cache.status, first.cache.store) == ("miss", True)
    entry = await remember(cache, first, "A prince avenges his father.", cost_usd=0.0042)
    assert entry is not None  # the semantic entry, for the followers
    answer = await hit(cache, event("Summarise the plot of Hamlet in one line."))
    verdict = answer.reply.cache
    assert verdict is not None and (verdict.status, verdict.kind, verdict.similarity) == ("hit", "exact", 1.0)
    assert answer.reply.response is not None and answer.reply.response.content == "A prince avenges his father."
    assert answer.reply.cache_hit and answer.record.cache_hit
    assert (answer.record.cache_status, answer.record.cache_kind, answer.record.cost_usd) == ("hit", "exact", 0.0)
    assert answer.record.cache_saved_usd == pytest.approx(0.0042)
    assert answer.record.attempts == []  # no provider call


async def test_a_paraphrase_hits_the_semantic_cache(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    await remember(cache, await miss(cache, event("What is the capital of France?")), "Paris.")
    for paraphrase in ("Tell me the capital of France.", "what is the capital of france"):
        answer = await hit(cache, event(paraphrase))
        verdict = answer.reply.cache
        assert verdict is not None and verdict.kind == "semantic"
        assert verdict.similarity is not None and 0.80 <= verdict.similarity < 1.0
        assert answer.reply.response is not None and answer.reply.response.content == "Paris."
        assert answer.record.cache_entry == verdict.entry != ""


async def test_near_misses_are_misses_with_the_reason(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    await remember(cache, await miss(cache, event("What is 17 times 23?")), "391")
    await remember(cache, await miss(cache, event("Convert 100 USD to EUR")), "92 EUR")
    for near in ("What is 17 times 24?", "Convert 100 EUR to USD"):
        looked = await miss(cache, event(near))
        assert looked.cache is not None and looked.cache.status == "miss"
        # the entry was found and refused, not missing
        assert looked.cache.similarity is not None and looked.cache.similarity >= 0.80
        assert looked.cache.reason is not None and looked.cache.reason.startswith("guard: ")


async def test_tenants_never_see_each_others_entries(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    await remember(cache, await miss(cache, event("What is the capital of France?", tenant="acme")), "Paris.")
    await hit(cache, event("What is the capital of France?", tenant="acme"))
    for text in ("What is the capital of France?", "Tell me the capital of France."):
        other = await miss(cache, event(text, tenant="globex"))
        assert other.cache is not None and other.cache.similarity is None  # nothing in its scope at all


@pytest.mark.parametrize(
    "change",
    [
        {"max_tokens": 5},
        {"seed": 3},
        {"stop": ["."]},
        {"top_p": 0.5},
        {"response_format_json": '{"type": "json_object"}'},
    ],
)
async def test_a_hit_never_ignores_an_answer_changing_parameter(
    make_cache: Callable[..., ResponseCache], change: dict[str, Any]
) -> None:
    cache = make_cache()
    await remember(cache, await miss(cache, event("What is the capital of France?")), "Paris.")
    for text in ("What is the capital of France?", "Tell me the capital of France."):
        await miss(cache, event(text, **change))


async def test_models_and_namespaces_are_scopes(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    await remember(cache, await miss(cache, event("What is the capital of France?")), "Paris.")
    await miss(cache, event("What is the capital of France?", model="exact-only"))
    await miss(cache, event("What is the capital of France?", control=CacheControl(namespace="v2")))
    v2 = await miss(cache, event("Name the largest planet.", control=CacheControl(namespace="v2")))
    assert v2.cache is not None and v2.cache.namespace == "v2"
    await remember(cache, v2, "Jupiter.")
    await hit(cache, event("Name the largest planet.", control=CacheControl(namespace="v2")))
    await miss(cache, event("Name the largest planet."))


async def test_temperature_turns_off_semantic_reuse_only(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    base = event("What is the capital of France?")
    hot = replace(base, envelope=replace(base.envelope, request=replace(base.envelope.request, temperature=0.9)))
    looked = await miss(cache, hot)
    assert looked.cache is not None and looked.cache.reason == "semantic: temperature"
    await remember(cache, looked, "Paris, probably.")
    await hit(cache, hot)  # the very same request, exactly
    paraphrase = event("Tell me the capital of France.")
    hot_paraphrase = replace(
        paraphrase, envelope=replace(paraphrase.envelope, request=replace(paraphrase.envelope.request, temperature=0.9))
    )
    await miss(cache, hot_paraphrase)


async def test_caller_controls(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    no_store = await miss(cache, event("Who wrote Dune?", control=CacheControl(store=False)))
    assert cache.fill_for(no_store, answered(no_store, "Frank Herbert.")) is None
    await remember(cache, await miss(cache, event("Who wrote Dune?")), "Frank Herbert.")
    bypass = await miss(cache, event("Who wrote Dune?", control=CacheControl(lookup=False)))
    assert bypass.cache is not None and (bypass.cache.status, bypass.cache.store) == ("bypass", True)
    await hit(cache, event("Who wrote Dune?", control=CacheControl(max_age_s=60)))
    cache._clock.now_us += 120_000_000  # type: ignore[attr-defined]  # two minutes later
    await miss(cache, event("Who wrote Dune?", control=CacheControl(max_age_s=60)))
    await miss(cache, event("Who was the author of Dune?", control=CacheControl(max_age_s=60)))
    await hit(cache, event("Who wrote Dune?"))
    strict = await miss(cache, event("Who was the author of Dune?", control=CacheControl(threshold=0.999)))
    assert strict.cache is not None and strict.cache.similarity is not None and strict.cache.similarity < 0.999


async def test_entries_expire_with_their_ttl(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache(config(ttl_s=60))
    await remember(cache, await miss(cache, event("Who painted the Mona Lisa?")), "Leonardo da Vinci.")
    await hit(cache, event("Who painted the Mona Lisa?"))
    cache._clock.now_us += 61_000_000  # type: ignore[attr-defined]
    await miss(cache, event("Who painted the Mona Lisa?"))
    await miss(cache, event("Tell me who painted the Mona Lisa."))


async def test_only_clean_answers_are_kept(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache()
    looked = await miss(cache, event("Describe the sea."))
    assert cache.fill_for(looked, answered(looked, "Blue.", guard_action="flag")) is None
    cut = finish(looked, T0_US, response=ChatResponse("x", "Bl", "content_filter", Usage(), "m", 1))
    assert cache.fill_for(looked, cut) is None
    uncached = await cache.check(event("Describe the sea.", model="uncached"))
    assert isinstance(uncached, StageEvent) and uncached.cache is not None and uncached.cache.status == "skip"


async def test_redis_down_is_a_miss_not_an_error(make_cache: Callable[..., ResponseCache]) -> None:
    cache = make_cache(config(mode="exact"), redis_url="redis://127.0.0.1:9/0")
    looked = await miss(cache, event("What is the capital of France?"))
    assert looked.cache is not None and looked.cache.status == "miss"
    assert "turnout_cache_errors_total" in cache._metrics.render()  # type: ignore[attr-defined]


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
async def test_the_writer_upserts_into_a_qdrant_server_store(
    make_cache: Callable[..., ResponseCache], embedder: MiniLMEmbedder
) -> None:
    from qdrant_client import QdrantClient

    from streams.cache.qdrant_store import QdrantServerStore

    store = QdrantServerStore(QdrantClient(location=":memory:"), "turnout-cache", embedder.dim)
    cache = make_cache(config(store="qdrant"), semantic=SemanticCache(embedder, store))
    assert not cache.follows_entries
    assert await remember(cache, await miss(cache, event("What is the capital of France?")), "Paris.") is None
    answer = await hit(cache, event("Tell me the capital of France."))
    assert answer.reply.cache is not None and answer.reply.cache.kind == "semantic"
