"""The semantic cache core: scopes never cross, expired entries never hit, guards refuse near misses; the keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import pytest

from schemas.events import ChatMessage, ChatRequest, ToolCall
from streams.cache.embedders import MiniLMEmbedder
from streams.cache.semantic import (
    CacheScope,
    SemanticCache,
    exact_key,
    params_digest,
    semantic_allowed,
    semantic_text,
)
from streams.cache.store import Payload, VectorHit, VectorStore

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect")

StoreFactory = Callable[[int], VectorStore]
NOW = 1_000.0
TOOLS = '[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]'


def _request(text: str = "What is the capital of France?", **fields: object) -> ChatRequest:
    return replace(ChatRequest(model="smart-chat", messages=[ChatMessage(role="user", content=text)]), **fields)


def _scope(tenant: str = "acme", **fields: object) -> CacheScope:
    return CacheScope.for_request(tenant, _request(**fields))


@pytest.fixture
def cache(make_store: StoreFactory, word_embedder: object) -> SemanticCache:
    embedder = word_embedder
    return SemanticCache(embedder, make_store(embedder.dim), threshold=0.8)  # type: ignore[attr-defined,arg-type]


def test_a_stored_answer_is_found_again(cache: SemanticCache) -> None:
    entry = cache.store(_scope(), "What is the capital of France?", "Paris.", ttl_s=60, now_s=NOW)
    hit = cache.lookup(_scope(), "what is the capital of france", NOW + 1)
    assert hit is not None
    assert (hit.entry_id, hit.answer, hit.query) == (entry, "Paris.", "What is the capital of France?")
    assert hit.similarity == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(_scope(tenant="globex"), id="another tenant"),
        pytest.param(CacheScope("acme", "cheap-chat", _scope().params), id="another logical model"),
        pytest.param(_scope(temperature=0.2), id="temperature"),
        pytest.param(_scope(max_tokens=50), id="max_tokens"),
        pytest.param(_scope(top_p=0.5), id="top_p"),
        pytest.param(_scope(seed=7), id="seed"),
        pytest.param(_scope(stop=["\n"]), id="stop"),
        pytest.param(_scope(tools_json=TOOLS), id="tools"),
        pytest.param(_scope(response_format_json='{"type": "json_object"}'), id="response_format"),
        pytest.param(
            CacheScope.for_request(
                "acme",
                ChatRequest(
                    model="smart-chat",
                    messages=[
                        ChatMessage(role="system", content="Answer in French."),
                        ChatMessage(role="user", content="x"),
                    ],
                ),
            ),
            id="system prompt",
        ),
    ],
)
def test_a_hit_never_crosses_scopes(cache: SemanticCache, other: CacheScope) -> None:
    assert other != _scope()
    cache.store(_scope(), "What is the capital of France?", "Paris.", ttl_s=60, now_s=NOW)
    assert cache.lookup(other, "What is the capital of France?", NOW) is None
    assert cache.lookup(_scope(), "What is the capital of France?", NOW) is not None


def test_scopes_ignore_json_key_order_and_stop_order() -> None:
    reordered = (
        '[{"function": {"parameters": {"properties": {}, "type": "object"}, "name": "lookup"}, "type": "function"}]'
    )
    assert _scope(tools_json=TOOLS) == _scope(tools_json=reordered)
    assert _scope(stop=["a", "b"]) == _scope(stop=["b", "a", "a"])
    assert _scope(temperature=0) == _scope(temperature=0.0)


def test_expired_entries_never_hit_and_are_removed(cache: SemanticCache) -> None:
    cache.store(_scope(), "What is the capital of France?", "Paris.", ttl_s=10, now_s=NOW)
    assert cache.lookup(_scope(), "What is the capital of France?", NOW + 9.9) is not None
    assert cache.lookup(_scope(), "What is the capital of France?", NOW + 10) is None
    assert cache.vectors.count() == 0


def test_storing_again_replaces_the_entry(cache: SemanticCache) -> None:
    first = cache.store(_scope(), "What is the capital of France?", "Paris.", ttl_s=10, now_s=NOW)
    second = cache.store(_scope(), "  what is the capital of  France? ", "Paris!", ttl_s=100, now_s=NOW + 50)
    assert first == second
    assert cache.vectors.count() == 1
    hit = cache.lookup(_scope(), "What is the capital of France?", NOW + 90)
    assert hit is not None and hit.answer == "Paris!"


def test_a_near_miss_above_the_threshold_is_refused_by_a_guard(cache: SemanticCache) -> None:
    cache.store(_scope(), "What is the capital of France?", "Paris.", ttl_s=60, now_s=NOW)
    probe = cache.probe(_scope(), "What is the capital of Germany?", NOW)
    assert probe.hit is None
    assert probe.best_similarity is not None and probe.best_similarity >= 0.8
    assert [reason for _, reason in probe.rejected] == ["entities_agree"]


def test_the_routes_threshold_overrides_the_default(cache: SemanticCache) -> None:
    cache.store(_scope(), "capital of France please", "Paris.", ttl_s=60, now_s=NOW)
    hit = cache.lookup(_scope(), "capital of France", NOW)  # three words of four: 0.866
    assert hit is not None and hit.similarity == pytest.approx(0.866, abs=1e-3)
    assert cache.lookup(_scope(), "capital of France", NOW, threshold=0.9) is None
    strict = SemanticCache(cache.embedder, cache.vectors, threshold=0.9)
    assert strict.lookup(_scope(), "capital of France", NOW) is None
    assert strict.lookup(_scope(), "capital of France", NOW, threshold=0.85) is not None


@pytest.mark.parametrize("ttl_s", [0, -5])
def test_nothing_is_stored_without_a_lifetime(cache: SemanticCache, ttl_s: float) -> None:
    assert cache.store(_scope(), "What is the capital of France?", "Paris.", ttl_s=ttl_s, now_s=NOW) is None
    assert cache.vectors.count() == 0


def test_over_long_and_empty_queries_are_not_cached(cache: SemanticCache) -> None:
    long_text = "word " * 300
    assert cache.store(_scope(), long_text, "x", ttl_s=60, now_s=NOW) is None
    assert cache.lookup(_scope(), long_text, NOW) is None
    assert cache.store(_scope(), "   ", "x", ttl_s=60, now_s=NOW) is None


class LeakyStore:
    """A store that ignores the filter: the cache must still check the entry's scope itself."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner

    def upsert(self, id: str, vector: Sequence[float], payload: Payload) -> None:
        self.inner.upsert(id, vector, payload)

    def search(self, vector: Sequence[float], filter: Mapping[str, str], limit: int) -> list[VectorHit]:
        return self.inner.search(vector, {}, limit)

    def delete(self, id: str) -> None:
        self.inner.delete(id)

    def count(self, filter: Mapping[str, str] | None = None) -> int:
        return self.inner.count(filter)


def test_the_scope_is_checked_on_the_entry_too(make_store: StoreFactory, word_embedder: object) -> None:
    embedder = word_embedder
    cache = SemanticCache(embedder, LeakyStore(make_store(embedder.dim)))  # type: ignore[attr-defined,arg-type]
    cache.store(_scope(tenant="globex"), "What is the capital of France?", "Paris.", ttl_s=60, now_s=NOW)
    assert cache.lookup(_scope(tenant="acme"), "What is the capital of France?", NOW) is None


def test_the_real_model_finds_a_paraphrase_and_refuses_near_misses(
    make_store: StoreFactory, minilm: MiniLMEmbedder
) -> None:
    cache = SemanticCache(minilm, make_store(minilm.dim))
    cache.store(_scope(), "What is 23 plus 17?", "40", ttl_s=60, now_s=NOW)
    cache.store(_scope(), "Convert 100 USD to EUR", "about 92 EUR", ttl_s=60, now_s=NOW)
    hit = cache.lookup(_scope(), "What's 17 + 23?", NOW)
    assert hit is not None and hit.answer == "40"
    assert cache.lookup(_scope(), "What is 23 plus 18?", NOW) is None
    assert cache.lookup(_scope(), "Convert 100 EUR to USD", NOW) is None


# exact_key


def _exact(request: ChatRequest, tenant: str = "acme") -> str:
    return exact_key(tenant, request)


def test_exact_key_is_a_sha256_hex_digest() -> None:
    key = _exact(_request())
    assert len(key) == 64 and int(key, 16) >= 0


@pytest.mark.parametrize(
    "same",
    [
        pytest.param(_request("  What is the capital of France?\n"), id="outer whitespace"),
        pytest.param(_request(stream=True, include_usage=True, user="u-1"), id="stream, usage and user"),
        pytest.param(_request(temperature=None), id="unset stays unset"),
    ],
)
def test_exact_key_ignores_what_changes_no_answer(same: ChatRequest) -> None:
    assert _exact(same) == _exact(_request())


def test_exact_key_normalises_json_stop_line_ends_and_tool_call_ids() -> None:
    reordered = (
        '[{"function": {"parameters": {"properties": {}, "type": "object"}, "name": "lookup"}, "type": "function"}]'
    )
    assert _exact(_request(tools_json=TOOLS)) == _exact(_request(tools_json=reordered))
    assert _exact(_request(stop=["a", "b"])) == _exact(_request(stop=["b", "a"]))
    assert _exact(_request("line one\r\nline two")) == _exact(_request("line one\nline two"))

    def conversation(call_id: str, arguments: str) -> ChatRequest:
        return ChatRequest(
            model="smart-chat",
            messages=[
                ChatMessage(role="user", content="Weather in Paris?"),
                ChatMessage(role="assistant", tool_calls=[ToolCall(id=call_id, name="weather", arguments=arguments)]),
                ChatMessage(role="tool", content="18C", tool_call_id=call_id),
            ],
        )

    assert _exact(conversation("call_abc", '{"city": "Paris", "unit": "c"}')) == _exact(
        conversation("call_xyz", '{"unit": "c", "city": "Paris"}')
    )


@pytest.mark.parametrize(
    "different",
    [
        pytest.param(_request("What is the capital of Spain?"), id="content"),
        pytest.param(replace(_request(), model="cheap-chat"), id="model"),
        pytest.param(_request(temperature=0.7), id="temperature"),
        pytest.param(_request(temperature=0), id="temperature 0 is not unset"),
        pytest.param(_request(max_tokens=10), id="max_tokens"),
        pytest.param(_request(seed=1), id="seed"),
        pytest.param(_request(tools_json=TOOLS), id="tools"),
        pytest.param(_request(tool_choice_json='"required"'), id="tool_choice"),
        pytest.param(_request(response_format_json='{"type": "json_object"}'), id="response_format"),
        pytest.param(_request(extra_json='{"presence_penalty": 1}'), id="extra parameters"),
        pytest.param(_request("What is the Capital of France?"), id="case"),
    ],
)
def test_exact_key_changes_with_what_changes_the_answer(different: ChatRequest) -> None:
    assert _exact(different) != _exact(_request())


def test_exact_key_is_per_tenant() -> None:
    assert _exact(_request(), "acme") != _exact(_request(), "globex")


# semantic_text and semantic_allowed


def _m(role: str, content: str | None = None, **fields: object) -> ChatMessage:
    return replace(ChatMessage(role=role, content=content), **fields)


@pytest.mark.parametrize(
    ("messages", "policy", "expected"),
    [
        ([_m("user", " Hello there ")], "last_user", "Hello there"),
        ([_m("system", "Be brief."), _m("user", "Hi")], "off", "Hi"),
        ([_m("user", "Hi"), _m("assistant", "Hello!"), _m("user", "And in Germany?")], "last_user", "And in Germany?"),
        ([_m("user", "Hi"), _m("assistant", "Hello!"), _m("user", "And in Germany?")], "off", None),
        ([_m("user", "Hi"), _m("assistant", "Hello!")], "last_user", None),
        ([_m("user", None, parts_json='[{"type": "image_url"}]')], "last_user", None),
        ([_m("tool", "18C", tool_call_id="c1")], "last_user", None),
        ([_m("user", "   ")], "last_user", None),
        ([_m("user", "x" * 1001)], "last_user", None),
        ([], "last_user", None),
    ],
)
def test_semantic_text_follows_the_multi_turn_policy(
    messages: list[ChatMessage], policy: str, expected: str | None
) -> None:
    assert semantic_text(messages, policy) == expected  # type: ignore[arg-type]


def test_earlier_turns_are_part_of_the_scope() -> None:
    def follow_up(first: str) -> ChatRequest:
        return ChatRequest(
            model="smart-chat",
            messages=[_m("user", first), _m("assistant", "..."), _m("user", "And in Germany?")],
        )

    assert params_digest(follow_up("Capital of France?")) != params_digest(follow_up("Population of France?"))
    assert params_digest(follow_up("Capital of France?")) == params_digest(follow_up("Capital of France?"))


@pytest.mark.parametrize(
    ("temperature", "allowed"),
    [(0.0, True), (0.3, True), (0.31, False), (1.0, False), (None, False)],
)
def test_semantic_allowed_only_at_low_temperature(temperature: float | None, allowed: bool) -> None:
    assert semantic_allowed(temperature) is allowed


def test_an_unset_temperature_uses_the_default_given() -> None:
    assert semantic_allowed(None, default_temperature=0.0)
    assert semantic_allowed(0.7, max_temperature=0.8)
