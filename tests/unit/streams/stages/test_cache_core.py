"""The cache plan: what a request may take from and give to the cache, by route config and caller controls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from schemas.config import CacheConfig
from schemas.events import CacheControl, ChatMessage, EmbeddingsRequest, GuardVerdict, StageEvent
from streams.cache.semantic import exact_key
from streams.stages.cache import plan_cache, redis_key

SEMANTIC = CacheConfig(mode="semantic", ttl_s=600, threshold=0.85)
TOOLS = '[{"type":"function","function":{"name":"f"}}]'


def _with_control(event: StageEvent, **control: Any) -> StageEvent:
    return replace(event, envelope=replace(event.envelope, cache_control=CacheControl(**control)))


def test_no_config_or_off_is_a_skip(stage_event: Callable[..., StageEvent]) -> None:
    for config in (None, CacheConfig()):
        plan = plan_cache(config, stage_event())
        assert (plan.lookup, plan.store, plan.reason) == (False, False, "off")
        assert plan.skipped().status == "skip"


def test_a_plain_question_gets_both_caches(stage_event: Callable[..., StageEvent]) -> None:
    event = stage_event(request={"temperature": 0.0})
    plan = plan_cache(SEMANTIC, event)
    assert plan.lookup and plan.store and plan.semantic
    assert plan.key == exact_key("acme", event.envelope.request)
    assert plan.query == "Hello"
    assert plan.scope is not None and (plan.scope.tenant, plan.scope.model) == ("acme", "smart-chat")
    assert (plan.threshold, plan.ttl_s, plan.namespace, plan.reason) == (0.85, 600, "default", None)


def test_exact_mode_never_plans_a_semantic_lookup(stage_event: Callable[..., StageEvent]) -> None:
    plan = plan_cache(CacheConfig(mode="exact"), stage_event(request={"temperature": 0.0}))
    assert plan.lookup and plan.key is not None and not plan.semantic


@pytest.mark.parametrize(
    ("request_fields", "reason"),
    [
        ({"temperature": 0.9}, "semantic: temperature"),
        ({}, "semantic: temperature"),  # unset is the provider's default, 1.0
        ({"temperature": 0.0, "tools_json": TOOLS}, "semantic: tools"),
        (
            {"temperature": 0.0, "messages": [ChatMessage(role="user", content="hi"), ChatMessage(role="assistant")]},
            "semantic: not a plain last user turn",
        ),
    ],
)
def test_semantic_reuse_needs_a_low_temperature_and_a_plain_turn(
    stage_event: Callable[..., StageEvent], request_fields: dict[str, Any], reason: str
) -> None:
    plan = plan_cache(SEMANTIC, stage_event(request=request_fields))
    assert plan.lookup and plan.key is not None  # the exact cache still applies
    assert not plan.semantic
    assert plan.reason == reason


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"input_guard": GuardVerdict(action="redact", findings=["pii.email"])}, "guarded"),
        ({"input_guard": GuardVerdict(action="flag", findings=["injection"])}, "guarded"),
    ],
)
def test_a_request_the_input_guard_touched_is_not_shared(
    stage_event: Callable[..., StageEvent], fields: dict[str, Any], reason: str
) -> None:
    plan = plan_cache(SEMANTIC, stage_event(request={"temperature": 0.0}, **fields))
    assert (plan.lookup, plan.store, plan.reason) == (False, False, reason)


def test_embeddings_and_tools_by_config(stage_event: Callable[..., StageEvent]) -> None:
    event = stage_event()
    embeddings = replace(event, envelope=replace(event.envelope, embeddings=EmbeddingsRequest("e", ["x"])))
    assert plan_cache(SEMANTIC, embeddings).reason == "embeddings"
    no_tools = CacheConfig(mode="exact", tools=False)
    assert plan_cache(no_tools, stage_event(request={"tools_json": TOOLS})).reason == "tools"
    assert plan_cache(CacheConfig(mode="exact"), stage_event(request={"tools_json": TOOLS})).lookup


def test_caller_controls(stage_event: Callable[..., StageEvent]) -> None:
    event = stage_event(request={"temperature": 0.0})
    no_lookup = plan_cache(SEMANTIC, _with_control(event, lookup=False))
    assert (no_lookup.lookup, no_lookup.store) == (False, True)
    no_store = plan_cache(SEMANTIC, _with_control(event, store=False))
    assert (no_store.lookup, no_store.store) == (True, False)
    assert plan_cache(SEMANTIC, _with_control(event, lookup=False, store=False)).reason == "caller"
    tuned = plan_cache(SEMANTIC, _with_control(event, threshold=0.95, max_age_s=30, namespace="v2", ttl_s=60))
    assert (tuned.threshold, tuned.max_age_s, tuned.namespace, tuned.ttl_s) == (0.95, 30, "v2", 60)
    assert tuned.scope is not None and tuned.scope.namespace == "v2"
    # a caller may shorten the route's TTL, never lengthen it
    assert plan_cache(SEMANTIC, _with_control(event, ttl_s=86_400)).ttl_s == 600


def test_the_key_changes_with_every_answer_changing_parameter(stage_event: Callable[..., StageEvent]) -> None:
    base = plan_cache(SEMANTIC, stage_event(request={"temperature": 0.0}))
    assert base.scope is not None
    for change in ({"temperature": 0.2}, {"max_tokens": 5}, {"seed": 7}, {"stop": ["x"]}, {"top_p": 0.5}):
        other = plan_cache(SEMANTIC, stage_event(request={"temperature": 0.0, **change}))
        assert other.key != base.key, change
        assert other.scope is not None and other.scope.params != base.scope.params, change
    # what changes no answer changes no key
    same = plan_cache(SEMANTIC, stage_event(request={"temperature": 0.0, "stream": True, "user": "u9"}))
    assert same.key == base.key


def test_redis_key_names_the_tenant_and_namespace() -> None:
    assert redis_key("turnout", "acme", "v2", "ab12") == "turnout:cache:acme:v2:ab12"
