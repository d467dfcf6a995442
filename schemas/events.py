"""Python mirrors of the Avro event schemas in ``schemas/avro``.

The ``.avsc`` files are the source of truth. Every top-level event here names its schema in
``AVRO_NAME``; ``tests/contract/test_event_schemas.py`` holds each dataclass and its schema to
the same fields. Times are integers: microseconds since the Unix epoch (``*_us``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

__all__ = [
    "EVENT_TYPES",
    "Attempt",
    "AttemptEvent",
    "BreakerEvent",
    "BudgetEvent",
    "BudgetVerdict",
    "CacheControl",
    "CacheEntry",
    "CacheFill",
    "CacheVerdict",
    "Caller",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ChunkEvent",
    "ConfigEvent",
    "ControlEvent",
    "DeadLetter",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "ErrorInfo",
    "FeedbackEvent",
    "GuardEvent",
    "GuardVerdict",
    "LimitVerdict",
    "ReplayDecision",
    "ReplyEvent",
    "RequestEvent",
    "RequestRecord",
    "RouteDecision",
    "ShadowAnswer",
    "StageEvent",
    "StageTiming",
    "ToolCall",
    "Usage",
    "UsageEvent",
]


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    team: str
    user: str
    tier: str
    key_id: str
    feature: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str | None = None
    parts_json: str | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: list[ChatMessage]
    stream: bool = False
    include_usage: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    tools_json: str | None = None
    tool_choice_json: str | None = None
    response_format_json: str | None = None
    user: str | None = None
    extra_json: str | None = None
    context: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ChatResponse:
    id: str
    content: str | None
    finish_reason: str
    usage: Usage
    upstream_model: str
    created: int
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    status: int
    type: str
    message: str
    code: str | None = None
    param: str | None = None
    error_class: str = "TurnoutError"
    retry_after_s: float | None = None
    limit_kind: str | None = None
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    deployment: str
    provider: str
    ok: bool
    started_at_us: int
    latency_us: int
    error_class: str | None = None
    http_status: int | None = None
    ttft_us: int | None = None


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    action: str
    findings: list[str] = field(default_factory=list)
    latency_us: int = 0


@dataclass(frozen=True, slots=True)
class LimitVerdict:
    action: str
    rule: str | None = None
    estimated_tokens: int = 0
    token_keys: list[str] = field(default_factory=list)
    downgraded_from: str | None = None


@dataclass(frozen=True, slots=True)
class BudgetVerdict:
    action: str
    budget: str | None = None
    reserved_nano: int = 0
    slots: list[str] = field(default_factory=list)
    downgraded_from: str | None = None


@dataclass(frozen=True, slots=True)
class CacheControl:
    lookup: bool = True
    store: bool = True
    max_age_s: int | None = None
    threshold: float | None = None
    namespace: str | None = None
    ttl_s: int | None = None


@dataclass(frozen=True, slots=True)
class CacheVerdict:
    status: str
    similarity: float | None = None
    key: str | None = None
    kind: str | None = None
    entry: str | None = None
    reason: str | None = None
    store: bool = False
    age_s: float | None = None
    saved_usd: float = 0.0
    namespace: str = ""
    ttl_s: int = 0
    semantic: bool = False


@dataclass(frozen=True, slots=True)
class RouteDecision:
    logical_model: str
    deployment: str
    provider: str
    upstream_model: str
    reason: str
    fallbacks: list[str] = field(default_factory=list)
    score: float | None = None


@dataclass(frozen=True, slots=True)
class StageTiming:
    stage: str
    started_at_us: int
    ended_at_us: int


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    model: str
    inputs: list[str]
    dimensions: int | None = None
    encoding_format: str | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class EmbeddingsResponse:
    vectors: list[list[float]]
    usage: Usage
    upstream_model: str


@dataclass(frozen=True, slots=True)
class RequestEvent:
    AVRO_NAME: ClassVar[str] = "turnout.RequestEvent"
    request_id: str
    reply_to: str
    source: str
    received_at_us: int
    deadline_at_us: int
    caller: Caller
    request: ChatRequest
    metadata: dict[str, str] = field(default_factory=dict)
    embeddings: EmbeddingsRequest | None = None
    cache_control: CacheControl | None = None
    trace_id: str = ""
    parent_span_id: str = ""


@dataclass(frozen=True, slots=True)
class StageEvent:
    AVRO_NAME: ClassVar[str] = "turnout.StageEvent"
    stage: str
    envelope: RequestEvent
    input_guard: GuardVerdict | None = None
    cache: CacheVerdict | None = None
    route: RouteDecision | None = None
    response: ChatResponse | None = None
    attempts: list[Attempt] = field(default_factory=list)
    timings: list[StageTiming] = field(default_factory=list)
    streamed_chunks: int | None = None
    embeddings: EmbeddingsResponse | None = None
    limit: LimitVerdict | None = None
    budget: BudgetVerdict | None = None


@dataclass(frozen=True, slots=True)
class ChunkEvent:
    AVRO_NAME: ClassVar[str] = "turnout.ChunkEvent"
    request_id: str
    seq: int
    deployment: str
    content: str = ""
    tool_calls_json: str | None = None


@dataclass(frozen=True, slots=True)
class ReplyEvent:
    AVRO_NAME: ClassVar[str] = "turnout.ReplyEvent"
    request_id: str
    logical_model: str
    response: ChatResponse | None = None
    error: ErrorInfo | None = None
    deployment: str = ""
    cache_hit: bool = False
    gateway_us: int = 0
    upstream_us: int = 0
    chunks_sent: int = 0
    embeddings: EmbeddingsResponse | None = None
    cache: CacheVerdict | None = None


@dataclass(frozen=True, slots=True)
class AttemptEvent:
    AVRO_NAME: ClassVar[str] = "turnout.AttemptEvent"
    request_id: str
    caller: Caller
    logical_model: str
    attempt_no: int
    attempt: Attempt


@dataclass(frozen=True, slots=True)
class UsageEvent:
    AVRO_NAME: ClassVar[str] = "turnout.UsageEvent"
    request_id: str
    caller: Caller
    at_us: int
    logical_model: str
    deployment: str
    upstream_model: str
    usage: Usage
    cost_usd: float


@dataclass(frozen=True, slots=True)
class RequestRecord:
    AVRO_NAME: ClassVar[str] = "turnout.RequestRecord"
    request_id: str
    caller: Caller
    source: str
    received_at_us: int
    finished_at_us: int
    logical_model: str
    status: int
    usage: Usage
    total_us: int
    deployment: str = ""
    upstream_model: str = ""
    provider: str = ""
    stream: bool = False
    error_class: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    cost_usd: float = 0.0
    upstream_us: int = 0
    ttft_us: int | None = None
    cache_hit: bool = False
    guard_action: str = "pass"
    route_reason: str = ""
    limit_action: str = ""
    downgraded_from: str | None = None
    budget: str | None = None
    routed_model: str = ""
    route_score: float | None = None
    guard_us: int = 0
    cache_status: str = ""
    cache_kind: str = ""
    cache_similarity: float | None = None
    cache_entry: str = ""
    cache_saved_usd: float = 0.0
    trace_id: str = ""
    parent_span_id: str = ""
    stages: list[StageTiming] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    AVRO_NAME: ClassVar[str] = "turnout.DeadLetter"
    topic: str
    partition: int
    offset: int
    value: bytes
    reason: str
    stage: str
    at_us: int
    key: bytes | None = None


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    AVRO_NAME: ClassVar[str] = "turnout.BreakerEvent"
    deployment: str
    state: str
    previous_state: str
    reason: str
    at_us: int
    opened_at_us: int = 0


@dataclass(frozen=True, slots=True)
class BudgetEvent:
    AVRO_NAME: ClassVar[str] = "turnout.BudgetEvent"
    budget: str
    scope: str
    scope_value: str
    period: str
    period_end_us: int
    threshold: float
    spent_usd: float
    limit_usd: float
    request_id: str
    at_us: int


@dataclass(frozen=True, slots=True)
class GuardEvent:
    AVRO_NAME: ClassVar[str] = "turnout.GuardEvent"
    request_id: str
    tenant: str
    logical_model: str
    stage: str
    guardrail: str
    action: str
    category: str
    at_us: int
    count: int = 1
    score: float | None = None
    latency_us: int = 0


@dataclass(frozen=True, slots=True)
class ReplayDecision:
    AVRO_NAME: ClassVar[str] = "turnout.ReplayDecision"
    run_id: str
    request_id: str
    tenant: str
    received_at_us: int
    requested_model: str
    original_deployment: str
    candidate_model: str
    candidate_deployment: str
    reason: str
    changed: bool
    prompt_tokens: int
    completion_tokens: int
    cost_before_usd: float
    cost_after_usd: float
    score: float | None = None


@dataclass(frozen=True, slots=True)
class ControlEvent:
    AVRO_NAME: ClassVar[str] = "turnout.ControlEvent"
    scope: str
    value: str
    killed: bool
    at_us: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ConfigEvent:
    AVRO_NAME: ClassVar[str] = "turnout.ConfigEvent"
    version: str
    published_at_us: int
    config_json: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class CacheFill:
    AVRO_NAME: ClassVar[str] = "turnout.CacheFill"
    request_id: str
    at_us: int
    tenant: str
    namespace: str
    exact_key: str
    ttl_s: int
    request: ChatRequest
    response: ChatResponse
    cost_usd: float = 0.0
    semantic: bool = False


@dataclass(frozen=True, slots=True)
class CacheEntry:
    AVRO_NAME: ClassVar[str] = "turnout.CacheEntry"
    entry_id: str
    tenant: str
    namespace: str
    model: str
    params: str
    query: str
    answer: str
    created_at_s: float
    expires_at_s: float
    vector: bytes


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    AVRO_NAME: ClassVar[str] = "turnout.FeedbackEvent"
    request_id: str
    tenant: str
    key_id: str
    user: str
    score: float
    at_us: int
    comment: str | None = None
    feedback_id: str = ""


@dataclass(frozen=True, slots=True)
class ShadowAnswer:
    AVRO_NAME: ClassVar[str] = "turnout.ShadowAnswer"
    run_id: str
    request_id: str
    tenant: str
    at_us: int
    original_deployment: str
    candidate_deployment: str
    status: int
    latency_us: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    original_answer: str | None = None
    candidate_answer: str | None = None
    similarity: float | None = None
    error_class: str | None = None


EVENT_TYPES: tuple[type, ...] = (
    RequestEvent,
    StageEvent,
    ChunkEvent,
    ReplyEvent,
    AttemptEvent,
    UsageEvent,
    RequestRecord,
    DeadLetter,
    BreakerEvent,
    BudgetEvent,
    ControlEvent,
    GuardEvent,
    ReplayDecision,
    CacheFill,
    CacheEntry,
    FeedbackEvent,
    ShadowAnswer,
    ConfigEvent,
)
