"""Every event round-trips through ``EventCodec`` in Avro single-object encoding, and bad bytes are refused."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from fastavro.schema import to_parsing_canonical_form

from schemas.codec import EventCodec, UndecodableEvent
from schemas.events import (
    EVENT_TYPES,
    Attempt,
    AttemptEvent,
    BreakerEvent,
    BudgetEvent,
    BudgetVerdict,
    CacheControl,
    CacheEntry,
    CacheFill,
    CacheVerdict,
    Caller,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ChunkEvent,
    ConfigEvent,
    ControlEvent,
    DeadLetter,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ErrorInfo,
    FeedbackEvent,
    GuardEvent,
    GuardVerdict,
    LimitVerdict,
    ReplayDecision,
    ReplyEvent,
    RequestEvent,
    RequestRecord,
    RouteDecision,
    ShadowAnswer,
    StageEvent,
    StageTiming,
    ToolCall,
    Usage,
    UsageEvent,
)

T0 = 1_700_000_000_000_000

CALLER = Caller(tenant="acme", team="platform", user="demo-user", tier="paid", key_id="demo", feature="search")
CALL = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}')
USAGE = Usage(prompt_tokens=120, completion_tokens=30, cached_tokens=64, total_tokens=150)
REQUEST = ChatRequest(
    model="smart-chat",
    messages=[
        ChatMessage(role="system", content="Be brief. Ünïcödé ✓ 😀"),
        ChatMessage(
            role="assistant",
            content="calling",
            parts_json='[{"type": "text", "text": "calling"}]',
            name="bot",
            tool_call_id="call_0",
            tool_calls=[CALL, ToolCall(id="call_2", name="lookup", arguments="{}")],
        ),
    ],
    stream=True,
    include_usage=True,
    temperature=0.7,
    top_p=0.25,
    max_tokens=512,
    stop=["\n\n", "END"],
    seed=-(2**62),
    tools_json='[{"type": "function", "function": {"name": "get_weather"}}]',
    tool_choice_json='"auto"',
    response_format_json='{"type": "json_object"}',
    user="end-user-1",
    extra_json='{"logprobs": true}',
    context=["The X200 warranty lasts 24 months.", "Returns within 30 days ✓"],
)
RESPONSE = ChatResponse(
    id="chatcmpl-1",
    content="It is sunny.",
    finish_reason="tool_calls",
    usage=USAGE,
    upstream_model="gpt-4o-2024-08-06",
    created=1_700_000_000,
    tool_calls=[CALL],
)
ERROR = ErrorInfo(
    status=429,
    type="rate_limit_error",
    message="slow down",
    code="rate_limit_exceeded",
    param="model",
    error_class="ProviderRateLimited",
    retry_after_s=1.5,
    limit_kind="requests",
    limit=20,
)
FAILED = Attempt(
    deployment="sim-gpt-4o",
    provider="simulator",
    ok=False,
    started_at_us=T0,
    latency_us=1_500,
    error_class="ProviderOverloaded",
    http_status=503,
    ttft_us=900,
)
SUCCEEDED = Attempt(deployment="sim-gpt-4o-mini", provider="simulator", ok=True, started_at_us=T0 + 2, latency_us=9)
ENVELOPE = RequestEvent(
    request_id="req-1",
    reply_to="turnout.replies.gw-1",
    source="http",
    received_at_us=T0,
    deadline_at_us=T0 + 60_000_000,
    caller=CALLER,
    request=REQUEST,
    metadata={"trace_id": "abc", "empty": ""},
    embeddings=EmbeddingsRequest(
        model="embed-small", inputs=["one", "two"], dimensions=256, encoding_format="float", user="u-1"
    ),
    cache_control=CacheControl(lookup=False, store=False, max_age_s=600, threshold=0.9, namespace="v2", ttl_s=60),
    trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    parent_span_id="00f067aa0ba902b7",
)
# float32 in Avro: values chosen to be exact in 32 bits
VECTORS = EmbeddingsResponse(
    vectors=[[0.5, -0.25], [1.0, 0.125]],
    usage=Usage(prompt_tokens=4, total_tokens=4),
    upstream_model="text-embedding-3-small",
)

VERDICT = CacheVerdict(
    status="hit",
    similarity=0.875,
    key="cache-key",
    kind="semantic",
    entry="6f1c0d52-5a4e-4c6b-9d0e-2b7c3f1a9e11",
    reason="numbers",
    store=True,
    age_s=12.5,
    saved_usd=0.0042,
    namespace="v2",
    ttl_s=3600,
    semantic=True,
)

FULL: list[Any] = [
    ENVELOPE,
    StageEvent(
        stage="invoke",
        envelope=ENVELOPE,
        input_guard=GuardVerdict(action="flag", findings=["pii.email", "pii.phone"]),
        cache=VERDICT,
        route=RouteDecision(
            logical_model="smart-chat",
            deployment="sim-gpt-4o",
            provider="simulator",
            upstream_model="gpt-4o",
            reason="fallback",
            fallbacks=["sim-gpt-4o-mini", "other"],
            score=0.5,
        ),
        response=RESPONSE,
        attempts=[FAILED, SUCCEEDED],
        timings=[StageTiming(stage="route", started_at_us=T0 + 1, ended_at_us=T0 + 2)],
        streamed_chunks=4,
        embeddings=VECTORS,
        limit=LimitVerdict(
            action="downgrade",
            rule="user-rpm",
            estimated_tokens=1030,
            token_keys=["t:limit:user-tpm:tokens:acme/u:1"],
            downgraded_from="smart-chat",
        ),
        budget=BudgetVerdict(
            action="downgrade",
            budget="team-monthly",
            reserved_nano=12_345,
            slots=["t:budget:team-monthly:acme/ml:2026-12"],
            downgraded_from="smart-chat",
        ),
    ),
    ChunkEvent(
        request_id="req-1",
        seq=3,
        deployment="sim-gpt-4o",
        content="Hel",
        tool_calls_json='[{"index": 0, "function": {"arguments": "{"}}]',
    ),
    ReplyEvent(
        request_id="req-1",
        logical_model="smart-chat",
        response=RESPONSE,
        error=ERROR,
        deployment="sim-gpt-4o",
        cache_hit=True,
        gateway_us=1_200,
        upstream_us=80_000,
        chunks_sent=4,
        embeddings=VECTORS,
        cache=VERDICT,
    ),
    AttemptEvent(request_id="req-1", caller=CALLER, logical_model="smart-chat", attempt_no=2, attempt=FAILED),
    UsageEvent(
        request_id="req-1",
        caller=CALLER,
        at_us=T0 + 5,
        logical_model="smart-chat",
        deployment="sim-gpt-4o",
        upstream_model="gpt-4o",
        usage=USAGE,
        cost_usd=0.000_123_5,
    ),
    RequestRecord(
        request_id="req-1",
        caller=CALLER,
        source="kafka",
        received_at_us=T0,
        finished_at_us=T0 + 90_000,
        logical_model="smart-chat",
        status=429,
        usage=USAGE,
        total_us=90_000,
        deployment="sim-gpt-4o",
        upstream_model="gpt-4o",
        provider="simulator",
        stream=True,
        error_class="ProviderRateLimited",
        attempts=[FAILED, SUCCEEDED],
        cost_usd=0.25,
        upstream_us=80_000,
        ttft_us=700,
        cache_hit=True,
        guard_action="flag",
        route_reason="fallback",
        limit_action="downgrade",
        downgraded_from="smart-chat",
        budget="team-monthly",
        routed_model="best-cheap-chat",
        route_score=0.12,
        guard_us=850,
        cache_status="hit",
        cache_kind="semantic",
        cache_similarity=0.91,
        cache_entry="6f1c0d52-5a4e-4c6b-9d0e-2b7c3f1a9e11",
        cache_saved_usd=0.0042,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        parent_span_id="00f067aa0ba902b7",
        stages=[StageTiming(stage="input_guard", started_at_us=T0 + 10, ended_at_us=T0 + 90)],
    ),
    DeadLetter(
        topic="turnout.requests",
        partition=1,
        offset=2**40,
        value=b"\x00\xff\xc3\x01",
        reason="not an Avro single-object encoded message",
        stage="input_guard",
        at_us=T0,
        key=b"req-1",
    ),
    BreakerEvent(
        deployment="sim-gpt-4o",
        state="open",
        previous_state="closed",
        reason="5 consecutive failures",
        at_us=T0,
        opened_at_us=T0,
    ),
    BudgetEvent(
        budget="team-monthly",
        scope="team",
        scope_value="acme/ml",
        period="2026-12",
        period_end_us=T0 + 10**12,
        threshold=0.8,
        spent_usd=80.5,
        limit_usd=100.0,
        request_id="req-1",
        at_us=T0,
    ),
    ControlEvent(scope="team", value="acme/ml", killed=True, at_us=T0, reason="runaway agent"),
    GuardEvent(
        request_id="req-1",
        tenant="acme",
        logical_model="smart-chat",
        stage="input",
        guardrail="injection",
        action="block",
        category="injection",
        at_us=T0,
        count=2,
        score=0.93,
        latency_us=140,
    ),
    ReplayDecision(
        run_id="run-1",
        request_id="req-1",
        tenant="acme",
        received_at_us=T0,
        requested_model="smart-chat",
        original_deployment="sim-gpt-4o",
        candidate_model="best-cheap-chat",
        candidate_deployment="sim-gpt-4o-mini",
        reason="simple",
        changed=True,
        prompt_tokens=12,
        completion_tokens=40,
        cost_before_usd=0.00043,
        cost_after_usd=0.0000258,
        score=0.08,
    ),
    CacheFill(
        request_id="req-1",
        at_us=T0,
        tenant="acme",
        namespace="v2",
        exact_key="ab" * 32,
        ttl_s=3600,
        request=REQUEST,
        response=RESPONSE,
        cost_usd=0.0042,
        semantic=True,
    ),
    CacheEntry(
        entry_id="6f1c0d52-5a4e-4c6b-9d0e-2b7c3f1a9e11",
        tenant="acme",
        namespace="v2",
        model="smart-chat",
        params="cd" * 32,
        query="What is the capital of France?",
        answer='{"content": "Paris."}',
        created_at_s=1_700_000_000.5,
        expires_at_s=1_700_003_600.5,
        vector=b"\x00\x00\x80\x3f",
    ),
    FeedbackEvent(
        request_id="req-1",
        tenant="acme",
        key_id="demo",
        user="demo-user",
        score=0.75,
        at_us=T0,
        comment="Helpful, but long. ✓",
        feedback_id="fb-1",
    ),
    ShadowAnswer(
        run_id="replay-1",
        request_id="req-1",
        tenant="acme",
        at_us=T0,
        original_deployment="sim-gpt-4o",
        candidate_deployment="sim-gpt-4o-mini",
        status=503,
        latency_us=80_000,
        prompt_tokens=12,
        completion_tokens=40,
        cost_usd=0.0000258,
        original_answer="Paris.",
        candidate_answer="Paris, France.",
        similarity=0.875,
        error_class="ProviderOverloaded",
    ),
    ConfigEvent(version="0123456789abcdef", published_at_us=T0, config_json='{"models": {}}', source="turnout.yaml"),
]

MINIMAL_CALLER = Caller(tenant="t", team="", user="u", tier="free", key_id="k")
MINIMAL_ENVELOPE = RequestEvent(
    request_id="r",
    reply_to="replies",
    source="http",
    received_at_us=0,
    deadline_at_us=0,
    caller=MINIMAL_CALLER,
    request=ChatRequest(model="m", messages=[]),
)
MINIMAL: list[Any] = [
    MINIMAL_ENVELOPE,
    StageEvent(stage="ingress", envelope=MINIMAL_ENVELOPE),
    ChunkEvent(request_id="r", seq=0, deployment="d"),
    ReplyEvent(request_id="r", logical_model="m"),
    AttemptEvent(
        request_id="r",
        caller=MINIMAL_CALLER,
        logical_model="m",
        attempt_no=1,
        attempt=Attempt(deployment="d", provider="p", ok=True, started_at_us=0, latency_us=0),
    ),
    UsageEvent(
        request_id="r",
        caller=MINIMAL_CALLER,
        at_us=0,
        logical_model="m",
        deployment="d",
        upstream_model="u",
        usage=Usage(),
        cost_usd=0.0,
    ),
    RequestRecord(
        request_id="r",
        caller=MINIMAL_CALLER,
        source="http",
        received_at_us=0,
        finished_at_us=0,
        logical_model="m",
        status=200,
        usage=Usage(),
        total_us=0,
    ),
    DeadLetter(topic="t", partition=0, offset=0, value=b"", reason="", stage="s", at_us=0),
    BreakerEvent(deployment="d", state="closed", previous_state="closed", reason="", at_us=0),
    BudgetEvent(
        budget="b",
        scope="global",
        scope_value="all",
        period="w1-0",
        period_end_us=0,
        threshold=1.0,
        spent_usd=0.0,
        limit_usd=1.0,
        request_id="r",
        at_us=0,
    ),
    ControlEvent(scope="key", value="k", killed=False, at_us=0),
    GuardEvent(
        request_id="r",
        tenant="t",
        logical_model="m",
        stage="output",
        guardrail="content",
        action="flag",
        category="c",
        at_us=0,
    ),
    ReplayDecision("r", "q", "t", 0, "m", "d", "m", "d", "primary", False, 0, 0, 0.0, 0.0),
    CacheFill("r", 0, "t", "", "", 0, ChatRequest(model="m", messages=[]), ChatResponse("", None, "", Usage(), "", 0)),
    CacheEntry("e", "t", "", "m", "", "", "", 0.0, 0.0, b""),
    FeedbackEvent("r", "t", "k", "u", 0.0, 0),
    ShadowAnswer("r", "q", "t", 0, "", "", 200, 0),
    ConfigEvent("v", 0, "{}"),
]


def _name(event: Any) -> str:
    return type(event).__name__


IDS = [f"full-{_name(e)}" for e in FULL] + [f"minimal-{_name(e)}" for e in MINIMAL]


@pytest.fixture(scope="module")
def codec() -> EventCodec:
    return EventCodec()


def test_the_samples_cover_every_event_type() -> None:
    assert [type(e) for e in FULL] == list(EVENT_TYPES)
    assert [type(e) for e in MINIMAL] == list(EVENT_TYPES)


def test_the_full_samples_set_every_field_somewhere() -> None:
    """Every field of every dataclass the full samples reach is non-empty in at least one instance."""
    seen: dict[tuple[str, str], bool] = {}

    def visit(obj: Any) -> None:
        for name in obj.__dataclass_fields__:
            value = getattr(obj, name)
            key = (type(obj).__name__, name)
            seen[key] = seen.get(key, False) or value not in (None, [], {})
            for item in value if isinstance(value, list) else [value]:
                if hasattr(item, "__dataclass_fields__"):
                    visit(item)

    for event in FULL:
        visit(event)
    assert [key for key, was_set in seen.items() if not was_set] == []
    assert {cls for cls, _ in seen} >= {"ChatMessage", "ToolCall", "ErrorInfo", "StageTiming", "GuardVerdict"}


@pytest.mark.parametrize("event", FULL + MINIMAL, ids=IDS)
def test_every_event_round_trips(codec: EventCodec, event: Any) -> None:
    decoded = codec.decode(codec.encode(event))
    assert type(decoded) is type(event)
    assert decoded == event
    assert codec.decode_as(type(event), codec.encode(event)) == event


def _rabin64(data: bytes) -> int:
    """CRC-64-AVRO, written from the Avro specification's reference code."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def test_rabin64_matches_the_avro_test_vector() -> None:
    # share/test/data/schema-tests.txt in the Avro repository: "null" -> 7195948357588979594
    assert _rabin64(b'"null"') == 7195948357588979594


@pytest.mark.parametrize("event", FULL, ids=_name)
def test_encoding_is_avro_single_object_encoding(codec: EventCodec, event: Any) -> None:
    data = codec.encode(event)
    canonical = to_parsing_canonical_form(codec.schema_of(type(event)))
    assert data[:2] == b"\xc3\x01"
    # "the 8-byte little-endian CRC-64-AVRO fingerprint of the object's schema"
    assert data[2:10] == struct.pack("<Q", _rabin64(canonical.encode()))


def test_each_event_type_has_its_own_fingerprint(codec: EventCodec) -> None:
    headers = {codec.encode(event)[:10] for event in FULL}
    assert len(headers) == len(EVENT_TYPES)
    assert {codec.encode(event)[:10] for event in MINIMAL} == headers


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc3\x01",
        b"\xc3\x01\x00\x00\x00",
        b"hello, this is not avro at all",
        b'{"request_id": "r"}',
        b"\xc3\x02" + bytes(8) + b"\x02r",
    ],
)
def test_garbage_is_undecodable(codec: EventCodec, data: bytes) -> None:
    with pytest.raises(UndecodableEvent):
        codec.decode(data)


def test_an_unknown_fingerprint_is_undecodable(codec: EventCodec) -> None:
    body = codec.encode(FULL[2])[10:]
    with pytest.raises(UndecodableEvent, match="unknown schema fingerprint 0102030405060708"):
        codec.decode(b"\xc3\x01" + bytes([1, 2, 3, 4, 5, 6, 7, 8]) + body)


@pytest.mark.parametrize("event", FULL + MINIMAL, ids=IDS)
def test_a_truncated_body_is_undecodable(codec: EventCodec, event: Any) -> None:
    data = codec.encode(event)
    for cut in sorted({len(data) - 1, 11, (10 + len(data)) // 2}):
        if cut <= 10:
            continue
        with pytest.raises(UndecodableEvent, match=f"corrupt {_name(event)} body"):
            codec.decode(data[:cut])
    with pytest.raises(UndecodableEvent):
        codec.decode(data[:10])


def test_a_corrupt_body_is_undecodable(codec: EventCodec) -> None:
    header = codec.encode(FULL[0])[:10]
    with pytest.raises(UndecodableEvent, match="corrupt RequestEvent body"):
        codec.decode(header + b"\xff" * 12)


@pytest.mark.parametrize(("event", "wrong"), [(FULL[0], StageEvent), (FULL[2], ReplyEvent), (FULL[7], RequestEvent)])
def test_decode_as_the_wrong_type_is_undecodable(codec: EventCodec, event: Any, wrong: type) -> None:
    with pytest.raises(UndecodableEvent, match=f"expected {wrong.__name__}, got {_name(event)}"):
        codec.decode_as(wrong, codec.encode(event))
