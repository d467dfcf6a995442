-- One row per request, written once it is answered. ReplacingMergeTree on (tenant, request_id):
-- a request recorded twice (a replay after a worker crash) is one row; read with FINAL.
CREATE TABLE IF NOT EXISTS {db}.requests
(
    request_id      String,
    tenant          LowCardinality(String),
    team            LowCardinality(String),
    user            String,
    tier            LowCardinality(String),
    key_id          LowCardinality(String),
    feature         LowCardinality(String),
    source          LowCardinality(String),
    received_at     DateTime64(6, 'UTC'),
    finished_at     DateTime64(6, 'UTC'),
    logical_model   LowCardinality(String),
    deployment      LowCardinality(String),
    upstream_model  LowCardinality(String),
    provider        LowCardinality(String),
    stream          Bool,
    status          UInt16,
    error_class     LowCardinality(String),
    attempts        Array(Tuple(
                        deployment String, provider String, ok Bool, error_class String,
                        http_status UInt16, started_at DateTime64(6, 'UTC'), latency_us UInt64,
                        ttft_us Nullable(UInt64))),
    prompt_tokens     UInt32,
    completion_tokens UInt32,
    cached_tokens     UInt32,
    total_tokens      UInt32,
    cost_usd        Float64,
    total_us        UInt64,
    upstream_us     UInt64,
    ttft_us         Nullable(UInt64),
    cache_hit       Bool,
    guard_action    LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (tenant, request_id)
SETTINGS non_replicated_deduplication_window = 1000
