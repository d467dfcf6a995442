-- turnout replay: each candidate decision beside what happened, per run.
CREATE TABLE IF NOT EXISTS {db}.replay_decisions
(
    run_id                String,
    request_id            String,
    tenant                LowCardinality(String),
    received_at           DateTime64(6, 'UTC'),
    requested_model       LowCardinality(String),
    original_deployment   LowCardinality(String),
    candidate_model       LowCardinality(String),
    candidate_deployment  LowCardinality(String),
    reason                LowCardinality(String),
    changed               Bool,
    prompt_tokens         UInt32,
    completion_tokens     UInt32,
    cost_before_usd       Float64,
    cost_after_usd        Float64,
    score                 Nullable(Float64)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (run_id, request_id)
SETTINGS non_replicated_deduplication_window = 1000
