"""The dry replay's what-ifs: a candidate's guardrails and cache settings over recorded requests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.config import TurnoutConfig, parse_config
from schemas.events import CacheControl, Caller, ChatMessage, ChatRequest, GuardVerdict, RequestEvent
from streams.cache.edge_store import EdgeVectorStore
from streams.cache.semantic import SemanticCache
from tests.unit.streams.cache.conftest import WordHashEmbedder
from turnout.whatif import CacheWhatIf, guard_action, guardrails_what_if

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[3] / "config" / "turnout.yaml").read_text())
T0 = 1_700_000_000_000_000


def _config(**models: dict[str, Any]) -> TurnoutConfig:
    data = copy.deepcopy(EXAMPLE)
    for name, extra in models.items():
        data["models"][name].update(extra)
    return parse_config(data)


def _event(
    text: str, i: int, *, tenant: str = "acme", seconds: float = 0, model: str = "smart-chat", **request: Any
) -> RequestEvent:
    caller = Caller(tenant=tenant, team="t", user="u", tier="paid", key_id="demo")
    control = request.pop("cache_control", None)
    chat = ChatRequest(model=model, messages=[ChatMessage("user", text)], temperature=0.0, **request)
    return RequestEvent(
        request_id=f"r{i}",
        reply_to="",
        source="kafka",
        received_at_us=T0 + int(seconds * 1e6) + i,
        deadline_at_us=T0 + 10**9,
        caller=caller,
        request=chat,
        cache_control=control,
    )


def test_guardrails_before_and_after() -> None:
    live = _config()
    candidate = _config(**{"smart-chat": {"guardrails": {"banned": {"action": "block", "keywords": ["kestrel"]}}}})
    events = [_event("tell me about kestrels", 0), _event("Project KESTREL status", 1), _event("hello", 2)]
    assert guard_action(live, events[0]) == guard_action(live, events[2])
    report = guardrails_what_if(live, candidate, events)
    assert report["after"].get("block: banned") == 1  # whole words: "kestrels" is not "kestrel"
    assert report["changed"] == 1 and report["changed_requests"][0]["request_id"] == "r1"
    assert sum(report["before"].values()) == sum(report["after"].values()) == 3


def test_exact_repeats_within_the_ttl_tenant_and_parameters() -> None:
    candidate = _config(**{"smart-chat": {"cache": {"mode": "exact", "ttl_s": 60}}})
    whatif = CacheWhatIf(candidate)
    played = [
        whatif.offer(_event("What is Kafka?", 0), None, 0.01),
        whatif.offer(_event("What is Kafka?", 1, seconds=10), None, 0.01),  # a repeat: hit
        whatif.offer(_event("What is Kafka?", 2, tenant="globex"), None, 0.01),  # another tenant: miss
        whatif.offer(_event("What is Kafka?", 3, max_tokens=5), None, 0.01),  # another parameter: miss
        whatif.offer(_event("What is Kafka?", 4, seconds=100), None, 0.01),  # past the TTL: miss (stores again)
        whatif.offer(_event("What is Kafka?", 5, seconds=101, cache_control=CacheControl(lookup=False)), None, 0.01),
    ]
    assert played == [None, "exact", None, None, None, None]
    summary = whatif.summary()
    assert (summary["lookups"], summary["exact_hits"], summary["saved_usd"]) == (5, 1, 0.01)
    assert summary["hit_rate"] == 0.2


def test_semantic_hits_under_the_candidate_threshold() -> None:
    embedder = WordHashEmbedder()
    opened: list[EdgeVectorStore] = []

    def cache() -> SemanticCache:
        opened.append(EdgeVectorStore.temporary(embedder.dim))
        return SemanticCache(embedder, opened[-1])

    def play(threshold: float) -> dict[str, Any]:
        settings = {"cache": {"mode": "semantic", "threshold": threshold, "ttl_s": 600}}
        whatif = CacheWhatIf(_config(**{"smart-chat": settings}), cache)
        for i, text in enumerate(["how do I reset my password", "how do I reset my password please"]):
            whatif.offer(_event(text, i, seconds=i), None, 0.02)
        whatif.close()
        return whatif.summary()

    loose, strict = play(0.8), play(0.99)
    assert (loose["semantic_hits"], loose["saved_usd"]) == (1, 0.02)
    assert strict["semantic_hits"] == 0 and strict["lookups"] == 2


def test_off_and_guarded_requests_are_skipped() -> None:
    assert not CacheWhatIf(_config(**{"faq-chat": {"cache": {"mode": "off"}}})).active
    whatif = CacheWhatIf(_config(**{"smart-chat": {"cache": {"mode": "exact"}}}))
    assert whatif.active
    assert whatif.offer(_event("hi", 0, model="best-cheap-chat"), None, 0.01) is None
    redacted = GuardVerdict("redact", ["pii:EMAIL"])
    assert whatif.offer(_event("mail a@b.example", 1), redacted, 0.01) is None
    assert whatif.offer(_event("mail a@b.example", 2), redacted, 0.01) is None  # guarded text is never shared
    assert whatif.summary()["skipped"] == {"guarded": 2, "off": 1}
    assert whatif.summary()["lookups"] == 0


def test_offsets_are_parsed_or_refused() -> None:
    from turnout.replay import parse_offsets

    assert parse_offsets("0:100-200, 1:90-180") == {0: (100, 200), 1: (90, 180)}
    for bad in ("", "0:5", "x:1-2", "0:9-3", "0:-1-2"):
        with pytest.raises(ValueError, match="offsets"):
            parse_offsets(bad)
