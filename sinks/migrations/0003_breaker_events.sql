-- Every circuit breaker transition, for the reliability dashboard and fallback analysis.
CREATE TABLE IF NOT EXISTS {db}.breaker_events
(
    deployment      LowCardinality(String),
    state           LowCardinality(String),
    previous_state  LowCardinality(String),
    reason          String,
    at              DateTime64(6, 'UTC'),
    opened_at       DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (deployment, at, state)
SETTINGS non_replicated_deduplication_window = 1000
