"""The one YAML file that configures Turnout, as frozen pydantic models.

Unknown keys are refused, and a bad file is refused at start with the path of each bad key and
what was expected (``ConfigError``). Secrets are never written in the file: provider keys are named
by environment variable (``api_key_env``) and virtual keys are stored as SHA-256 hashes
(``key_sha256``) or named by environment variable (``key_env``). Environment variables are read
only here, in ``resolve_secrets``, never by stage code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "DEFAULT_CACHE_THRESHOLD",
    "MAX_CACHE_TTL_S",
    "BreakerConfig",
    "BudgetRule",
    "CacheConfig",
    "CacheStoreConfig",
    "ClickHouseConfig",
    "ConfigError",
    "DeploymentConfig",
    "FaithfulnessGuardConfig",
    "GatewayConfig",
    "GuardrailsConfig",
    "KafkaConfig",
    "LimitRule",
    "LogicalModelConfig",
    "ModerationConfig",
    "OnLimitConfig",
    "ProviderConfig",
    "ReaderConfig",
    "RedisConfig",
    "RetryConfig",
    "RoutingConfig",
    "SinkConfig",
    "TopologyConfig",
    "TurnoutConfig",
    "VirtualKeyConfig",
    "hash_key",
    "load_config",
    "parse_config",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(ValueError):
    """The config file is invalid; the message names each bad key."""


class GatewayConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    request_timeout_s: float = Field(60.0, gt=0)
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0)
    instance_id: str | None = Field(None, description="Names the reply topic; random when absent.")
    admin_port: int | None = Field(
        None, ge=0, le=65535, description="The admin API's own port (loopback); off when null."
    )
    admin_token_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    admin_token_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _admin_credentials(self) -> GatewayConfig:
        if self.admin_port is not None and (self.admin_token_sha256 is None) == (self.admin_token_env is None):
            raise ValueError("the admin API needs exactly one of admin_token_sha256 or admin_token_env")
        return self


FETCH_MAX_WAIT_MS = 50  # see KafkaConfig.fetch_max_wait_ms


class KafkaConfig(_Model):
    bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = Field("turnout", pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(2, ge=1)
    consumer_group: str = "turnout-stages"
    session_timeout_ms: int = Field(6000, ge=1000)
    fetch_max_wait_ms: int = Field(
        FETCH_MAX_WAIT_MS,
        ge=0,
        description=(
            "How long the broker holds a worker's fetch when there is nothing to read. A message that "
            "arrives is answered at once; this bounds an idle fetch, and the rare wait of a partition "
            "left out of the fetch in flight (aiokafka sends one per broker). 5 ms cost the broker "
            "0.34 cores with two idle stacks here, for no gain in latency; faust's own 1,500 ms "
            "delays quiet topics."
        ),
    )


class RedisConfig(_Model):
    url: str = "redis://127.0.0.1:16379/0"


class ClickHouseConfig(_Model):
    dsn: str = Field("chdb:///.run/clickhouse", description="chdb:///path, or http(s)://host:port")
    database: str = Field("turnout", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class ReaderConfig(_Model):
    """A login for the analytics on the sink's query port (``/query`` and the dashboards): a token, by
    SHA-256 or environment variable, and the one tenant whose rows it may read (all tenants when null)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    token_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    token_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    tenant: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:@/-]{1,128}$")

    @model_validator(mode="after")
    def _one_secret(self) -> ReaderConfig:
        if (self.token_sha256 is None) == (self.token_env is None):
            raise ValueError("give exactly one of token_sha256 or token_env")
        return self


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class SinkConfig(_Model):
    batch_rows: int = Field(10_000, ge=1, description="Or after batch_ms; each flush is a part per table.")
    batch_ms: int = Field(1000, ge=1, description="Off the request path: fewer, larger inserts cost less CPU.")
    query_host: str = "127.0.0.1"
    query_port: int = Field(8124, ge=0, le=65535)
    otlp_endpoint: str | None = Field(
        None, pattern=r"^https?://", description="Also send the spans to this OTLP/HTTP endpoint (…/v1/traces)."
    )
    readers: tuple[ReaderConfig, ...] = Field(
        (), description="Logins for /query and the dashboards. With none, the port is open: loopback only."
    )
    client_token_env: str = Field(
        "TURNOUT_SINK_TOKEN",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="The variable holding the token Turnout's own processes present (feedback checks, turnout sql).",
    )

    @model_validator(mode="after")
    def _no_open_port_off_loopback(self) -> SinkConfig:
        if not self.readers and self.query_host not in _LOOPBACK:
            raise ValueError(f"query_host {self.query_host!r} is not loopback: configure sink.readers (logins)")
        return self


class TopologyConfig(_Model):
    layout: Literal["split", "fused"] = "split"
    concurrency: int = Field(64, ge=1, description="Events each stage agent of a worker works on at once.")
    delivery: Literal["lane", "agent"] = Field(
        "lane",
        description="How a worker hands each stage its messages: lane (from the fetch loop, streams.lanes) "
        "or agent (faust's conductor, channel and stream).",
    )
    chunk_flush_ms: int = Field(25, ge=0, description="Stream chunks are coalesced this long...")
    chunk_flush_chars: int = Field(256, ge=1, description="...or until this many characters.")
    web_port: int | None = Field(None, description="Faust's web server on 127.0.0.1; off when null.")


_ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class ProviderConfig(_Model):
    """One provider endpoint. ``kind`` picks the wire format: ``openai`` (also vLLM, Ollama,
    llama.cpp, Mistral and other OpenAI-compatible servers), ``anthropic``, ``gemini``, ``bedrock``."""

    kind: Literal["openai", "anthropic", "gemini", "bedrock"] = "openai"
    base_url: str
    api_key_env: str | None = Field(None, pattern=_ENV_NAME)
    api_version: str | None = Field(None, description="anthropic-version header; Gemini API version.")
    region: str | None = Field(None, description="AWS region (bedrock).")
    aws_access_key_id_env: str | None = Field(None, pattern=_ENV_NAME)
    aws_secret_access_key_env: str | None = Field(None, pattern=_ENV_NAME)
    aws_session_token_env: str | None = Field(None, pattern=_ENV_NAME)
    timeout_s: float = Field(60.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)
    max_connections: int = Field(200, ge=1)
    ca_file: str | None = Field(
        None, description="PEM file of the CAs to trust for an https base_url (a private CA); else the system's."
    )
    proxy_url: str | None = Field(
        None,
        description="http://[user:password@]host:port of a forward proxy for this provider's calls "
        "(a CONNECT tunnel for https); else the environment's, with trust_env.",
    )
    trust_env: bool = Field(
        True, description="Without proxy_url: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY from the environment, less NO_PROXY."
    )

    @field_validator("proxy_url")
    @classmethod
    def _an_http_proxy(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme.lower() != "http" or not parts.hostname:
                raise ValueError("proxy_url must be http://[user:password@]host:port (https goes through CONNECT)")
            try:
                parts.port  # noqa: B018 - a port that is not a number raises here
            except ValueError as exc:
                raise ValueError(f"proxy_url: {exc}") from None
        return url

    @model_validator(mode="after")
    def _bedrock_needs_a_region(self) -> ProviderConfig:
        if self.kind == "bedrock" and not self.region:
            raise ValueError("a bedrock provider needs a region")
        return self


class DeploymentConfig(_Model):
    provider: str
    model: str
    context_window: int | None = Field(None, ge=1, description="Tokens; a context overflow falls back to a larger one.")
    input_usd_per_mtok: float = Field(0.0, ge=0)
    output_usd_per_mtok: float = Field(0.0, ge=0)
    cached_input_usd_per_mtok: float | None = Field(None, ge=0)


FallbackTrigger = Literal[
    "rate_limited", "overloaded", "timeout", "connection", "server_error", "auth", "context_window", "content_policy"
]
DEFAULT_TRIGGERS: tuple[FallbackTrigger, ...] = (
    "rate_limited",
    "overloaded",
    "timeout",
    "connection",
    "server_error",
    "auth",
    "context_window",
)


class RetryConfig(_Model):
    """Tries of the same deployment before moving to the next (exponential backoff, full jitter)."""

    max_tries: int = Field(2, ge=1, le=10)
    base_delay_ms: int = Field(100, ge=0)
    max_delay_ms: int = Field(2000, ge=0)
    jitter: bool = True


class BreakerConfig(_Model):
    """Circuit breakers, one per deployment (see streams/stages/breaker.py)."""

    failure_threshold: int = Field(5, ge=1, description="Consecutive failures that open the breaker.")
    open_s: float = Field(10.0, gt=0, description="How long it stays open before a half-open probe.")
    latency_p95_ms: float | None = Field(None, gt=0, description="Open when the windowed p95 exceeds this.")
    window_s: float = Field(30.0, gt=0)
    min_samples: int = Field(20, ge=1)
    window_max_samples: int = Field(200, ge=1)


class OnLimitConfig(_Model):
    """What a logical model does with a request over a rate limit."""

    action: Literal["reject", "queue", "downgrade"] = "reject"
    downgrade_to: str | None = Field(
        None, description="The cheaper logical model: for the downgrade action, and budgets' auto-downgrade."
    )
    redis_down: Literal["open", "closed"] = Field("open", description="Admit (open) or refuse (closed).")

    @model_validator(mode="after")
    def _downgrade_needs_a_target(self) -> OnLimitConfig:
        if self.action == "downgrade" and not self.downgrade_to:
            raise ValueError("action downgrade needs downgrade_to")
        return self


class RoutingConfig(_Model):
    """How a logical model picks the logical model that serves a request, in this order: by the
    caller's ``tier``; by ``weights`` (an A/B split, sticky per user); by complexity (``simple``
    prompts to the cheaper model). The first that applies decides; otherwise the model serves itself."""

    tiers: dict[str, str] = Field(default_factory=dict, description="Caller tier -> logical model.")
    weights: dict[str, float] = Field(
        default_factory=dict, description="Logical model -> weight; the model itself may be one of them."
    )
    simple: str | None = Field(None, description="The logical model for requests the classifier calls simple.")
    complexity_threshold: float | None = Field(
        None, gt=0, lt=1, description="Score from which a request is complex; the shipped model's when null."
    )

    @model_validator(mode="after")
    def _positive_weights(self) -> RoutingConfig:
        if any(w < 0 for w in self.weights.values()) or (self.weights and sum(self.weights.values()) <= 0):
            raise ValueError("weights must be >= 0 and not all 0")
        return self

    def targets(self) -> list[str]:
        return [*self.tiers.values(), *self.weights, *([self.simple] if self.simple else [])]


PII_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS", "API_KEY", "PRIVATE_KEY", "PASSWORD")


class PiiGuardConfig(_Model):
    """PII and secrets in the request: replaced by typed placeholders before the provider sees them
    (``redact``), refused (``block``), or let through and recorded (``flag``)."""

    action: Literal["redact", "block", "flag", "off"] = "redact"
    types: tuple[Literal[PII_TYPES], ...] = PII_TYPES  # type: ignore[valid-type]
    restore: bool = Field(False, description="Put the caller's own values back into the reply.")


class InjectionGuardConfig(_Model):
    action: Literal["block", "flag", "off"] = "flag"
    threshold: float = Field(0.5, gt=0, le=1)


class BannedGuardConfig(_Model):
    """Regexes and keywords that must never reach a public provider (internal hosts, code names)."""

    action: Literal["block", "redact", "flag"] = "block"
    patterns: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _patterns_compile(self) -> BannedGuardConfig:
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from None
        return self


class ModerationConfig(_Model):
    """A moderation endpoint (OpenAI's ``POST /v1/moderations`` shape) asked about each reply, after the
    content filter's patterns; ``provider`` names one of ``providers`` (its base URL and key)."""

    provider: str
    model: str = "omni-moderation-latest"
    timeout_ms: int = Field(2000, ge=10, le=60_000)
    on_error: Literal["allow", "block"] = Field("allow", description="When the endpoint cannot answer.")


class ContentGuardConfig(_Model):
    """Harmful or off-policy output: the built-in categories, or ``categories`` (name -> regexes), and
    optionally a moderation endpoint."""

    action: Literal["block", "flag", "off"] = "flag"
    categories: dict[str, tuple[str, ...]] | None = None
    moderation: ModerationConfig | None = None


class JsonGuardConfig(_Model):
    """A reply that the request promised as JSON (``response_format``) and that is not: ask again
    once with the error fed back (``retry``), or answer an error (``fail``)."""

    on_invalid: Literal["retry", "fail", "off"] = "retry"


class FaithfulnessGuardConfig(_Model):
    """On requests that carry their retrieved chunks (``turnout.context``): each sentence of the answer
    must be supported by them (shared words, or the same meaning by the cache's embedder; numbers must
    agree). Below ``min_score`` (the share of supported sentences) the answer is flagged or blocked."""

    action: Literal["flag", "block", "off"] = "flag"
    min_score: float = Field(0.7, gt=0, le=1)
    lexical_threshold: float = Field(0.6, gt=0, le=1, description="Share of a sentence's words found in one passage.")
    semantic_threshold: float = Field(0.6, gt=0, le=1, description="Cosine similarity to a passage, for the rest.")


class GuardrailsConfig(_Model):
    pii: PiiGuardConfig = Field(default_factory=PiiGuardConfig)
    injection: InjectionGuardConfig = Field(default_factory=InjectionGuardConfig)
    banned: BannedGuardConfig = Field(default_factory=BannedGuardConfig)
    content: ContentGuardConfig = Field(default_factory=ContentGuardConfig)
    json_output: JsonGuardConfig = Field(default_factory=JsonGuardConfig)
    faithfulness: FaithfulnessGuardConfig = Field(default_factory=FaithfulnessGuardConfig)


DEFAULT_CACHE_THRESHOLD = 0.80  # all-MiniLM-L6-v2 with the near-miss guards; streams/cache/EMBEDDERS.md
MAX_CACHE_TTL_S = 7 * 86_400  # the entries topic keeps a week


class CacheConfig(_Model):
    """The response cache for one logical model: ``exact`` (Redis, on a normalised key of the request),
    or ``semantic`` (exact first, then answers to questions that mean the same, within the tenant, the
    model and the answer-changing parameters). Off unless asked for: a cached answer is a decision."""

    mode: Literal["off", "exact", "semantic"] = "off"
    ttl_s: int = Field(3600, ge=1, le=MAX_CACHE_TTL_S)
    namespace: str = Field("default", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    threshold: float = Field(DEFAULT_CACHE_THRESHOLD, gt=0, le=1, description="Cosine similarity a semantic hit needs.")
    max_temperature: float = Field(0.3, ge=0, description="Above it, no semantic reuse (exact still applies).")
    default_temperature: float = Field(
        1.0, ge=0, description="What an unset temperature means (the provider's default)."
    )
    multi_turn: Literal["last_user", "off"] = Field(
        "last_user", description="last_user: embed the last user turn, the turns before it must match exactly."
    )
    tools: bool = Field(True, description="Cache requests with tools in the exact cache (never the semantic one).")


class CacheStoreConfig(_Model):
    """Where semantic-cache entries live: ``edge``, an embedded Qdrant shard in each worker, fed by the
    entries topic; or ``qdrant``, a Qdrant server all workers share."""

    store: Literal["edge", "qdrant"] = "edge"
    qdrant_url: str | None = Field(None, pattern=r"^https?://")
    collection: str = "turnout-cache"
    optimize_every: int = Field(5000, ge=1, description="Index an embedded shard after this many new entries.")

    @model_validator(mode="after")
    def _url_for_server(self) -> CacheStoreConfig:
        if self.store == "qdrant" and not self.qdrant_url:
            raise ValueError("store qdrant needs qdrant_url")
        return self


class LogicalModelConfig(_Model):
    deployments: tuple[str, ...] = Field(min_length=1, description="Primary first, then fallbacks.")
    description: str = ""
    fallback_on: tuple[FallbackTrigger, ...] = Field(DEFAULT_TRIGGERS, description="Errors that move to the next.")
    retry: RetryConfig = Field(default_factory=RetryConfig)
    on_limit: OnLimitConfig = Field(default_factory=OnLimitConfig)
    routing: RoutingConfig | None = None
    guardrails: GuardrailsConfig = Field(default_factory=GuardrailsConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)


class LimitRule(_Model):
    """A rate limit: at most ``requests`` and/or ``tokens`` per fixed window of ``window_s``, per
    ``scope`` (each user, team, feature, key, tenant, model, or one global count), optionally only
    for callers of one ``tier`` or requests for one logical ``model``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    scope: Literal["user", "team", "feature", "key", "tenant", "model", "global"]
    requests: int | None = Field(None, ge=0)
    tokens: int | None = Field(None, ge=0)
    window_s: int = Field(60, ge=1)
    tier: str | None = None
    model: str | None = None

    @model_validator(mode="after")
    def _counts_something(self) -> LimitRule:
        if self.requests is None and self.tokens is None:
            raise ValueError("give requests, tokens or both")
        return self


class BudgetRule(_Model):
    """A spending budget in USD per ``scope`` (each user, team, feature, key, tenant, or one global
    total) and period: a calendar ``period`` in UTC (``day``, ``month``), or fixed windows of
    ``window_s`` seconds. Optionally only for callers of one ``tier`` or requests for one logical
    ``model``.

    At each share of ``alert_at`` a budget event is emitted once per period (and POSTed to
    ``webhook_url`` when set). From ``downgrade_at`` on, requests go to their logical model's cheaper
    model (``on_limit.downgrade_to``). A request whose estimated cost would take the spend past
    ``usd`` is refused (429 ``budget_exceeded``)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    scope: Literal["user", "team", "feature", "key", "tenant", "global"]
    usd: float = Field(gt=0)
    period: Literal["day", "month"] | None = None
    window_s: int | None = Field(None, ge=1, description="Fixed windows instead of a calendar period.")
    tier: str | None = None
    model: str | None = None
    alert_at: tuple[float, ...] = Field((0.5, 0.8, 1.0), description="Shares of the budget that raise an alert.")
    downgrade_at: float | None = Field(None, gt=0, le=1, description="Share from which to serve the cheaper model.")
    webhook_url: str | None = Field(None, pattern=r"^https?://")

    @model_validator(mode="after")
    def _one_period(self) -> BudgetRule:
        if (self.period is None) == (self.window_s is None):
            raise ValueError("give exactly one of period (day, month) or window_s")
        if any(not 0 < share <= 1 for share in self.alert_at):
            raise ValueError("alert_at shares must be in (0, 1]")
        return self


class VirtualKeyConfig(_Model):
    id: str
    key_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    key_env: str | None = Field(None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    tenant: str
    team: str
    user: str
    tier: str = "free"
    models: tuple[str, ...] | None = Field(None, description="Logical models allowed; all when null.")

    @model_validator(mode="after")
    def _one_secret(self) -> VirtualKeyConfig:
        if (self.key_sha256 is None) == (self.key_env is None):
            raise ValueError("give exactly one of key_sha256 or key_env")
        return self


class TurnoutConfig(_Model):
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    clickhouse: ClickHouseConfig = Field(default_factory=ClickHouseConfig)
    sink: SinkConfig = Field(default_factory=SinkConfig)
    topology: TopologyConfig = Field(default_factory=TopologyConfig)
    breakers: BreakerConfig = Field(default_factory=BreakerConfig)
    limits: tuple[LimitRule, ...] = ()
    budgets: tuple[BudgetRule, ...] = ()
    cache: CacheStoreConfig = Field(default_factory=CacheStoreConfig)
    providers: dict[str, ProviderConfig]
    deployments: dict[str, DeploymentConfig]
    models: dict[str, LogicalModelConfig]
    keys: tuple[VirtualKeyConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> TurnoutConfig:
        problems = []
        for name, dep in self.deployments.items():
            if dep.provider not in self.providers:
                problems.append(f"deployments.{name}.provider: unknown provider {dep.provider!r}")
        for name, model in self.models.items():
            for i, dep_name in enumerate(model.deployments):
                if dep_name not in self.deployments:
                    problems.append(f"models.{name}.deployments.{i}: unknown deployment {dep_name!r}")
        for name, model in self.models.items():
            target = model.on_limit.downgrade_to
            if target is not None and target not in self.models:
                problems.append(f"models.{name}.on_limit.downgrade_to: unknown model {target!r}")
        for name, model in self.models.items():
            for target in model.routing.targets() if model.routing else ():
                if target not in self.models:
                    problems.append(f"models.{name}.routing: unknown model {target!r}")
                elif target != name and self.models[target].routing is not None:
                    problems.append(f"models.{name}.routing: {target!r} routes again; route to a model without routing")
        for name, model in self.models.items():
            moderation = model.guardrails.content.moderation
            if moderation is not None and moderation.provider not in self.providers:
                problems.append(
                    f"models.{name}.guardrails.content.moderation.provider: unknown {moderation.provider!r}"
                )
            elif moderation is not None and self.providers[moderation.provider].kind != "openai":
                problems.append(f"models.{name}.guardrails.content.moderation.provider: must be an openai provider")
        for i, rule in enumerate(self.limits):
            if rule.model is not None and rule.model not in self.models:
                problems.append(f"limits.{i}.model: unknown model {rule.model!r}")
        for i, budget in enumerate(self.budgets):
            if budget.model is not None and budget.model not in self.models:
                problems.append(f"budgets.{i}.model: unknown model {budget.model!r}")
        names = [b.name for b in self.budgets]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"budgets: the name {name!r} is used more than once")
        for i, key in enumerate(self.keys):
            for model_name in key.models or ():
                if model_name not in self.models:
                    problems.append(f"keys.{i}.models: unknown model {model_name!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"invalid config {source}:"]
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {path or '(top)'}: {err['msg']}" + (f" (got {err['input']!r})" if path else ""))
    return "\n".join(lines)


def parse_config(data: Mapping[str, Any], source: str = "<dict>") -> TurnoutConfig:
    try:
        return TurnoutConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def load_config(path: str | Path) -> TurnoutConfig:
    """The config in ``path``, validated; relative chdb paths resolve against the file's folder."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {path}: the top level must be a mapping")
    config = parse_config(data, str(path))
    dsn = config.clickhouse.dsn
    if dsn.startswith("chdb://") and not dsn.startswith("chdb:///") and dsn != "chdb://memory":
        raise ConfigError(f"invalid config {path}:\n  clickhouse.dsn: use chdb:///absolute/or/relative/path")
    if dsn.startswith("chdb:///."):
        resolved = (path.parent / dsn[len("chdb:///") :]).resolve()
        config = config.model_copy(
            update={"clickhouse": config.clickhouse.model_copy(update={"dsn": f"chdb://{resolved}"})}
        )
    return config
