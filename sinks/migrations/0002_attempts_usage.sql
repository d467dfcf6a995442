-- Every attempt (one per provider call) and every usage event, for breakers and cost analytics.
CREATE TABLE IF NOT EXISTS {db}.attempts
(
    request_id      String,
    tenant          LowCardinality(String),
    logical_model   LowCardinality(String),
    attempt_no      UInt16,
    deployment      LowCardinality(String),
    provider        LowCardinality(String),
    ok              Bool,
    error_class     LowCardinality(String),
    http_status     UInt16,
    started_at      DateTime64(6, 'UTC'),
    latency_us      UInt64,
    ttft_us         Nullable(UInt64)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (tenant, request_id, attempt_no)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.usage
(
    request_id      String,
    tenant          LowCardinality(String),
    team            LowCardinality(String),
    user            String,
    feature         LowCardinality(String),
    at              DateTime64(6, 'UTC'),
    logical_model   LowCardinality(String),
    deployment      LowCardinality(String),
    upstream_model  LowCardinality(String),
    prompt_tokens     UInt32,
    completion_tokens UInt32,
    cached_tokens     UInt32,
    cost_usd        Float64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, request_id, deployment)
SETTINGS non_replicated_deduplication_window = 1000
