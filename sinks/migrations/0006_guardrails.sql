-- Guardrails: what each guardrail found (never the text) and what it did, and what the guardrails
-- took per request. Block rate per route and guardrail: guard_events against requests.
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS guard_us UInt64 DEFAULT 0;

CREATE TABLE IF NOT EXISTS {db}.guard_events
(
    request_id      String,
    tenant          LowCardinality(String),
    logical_model   LowCardinality(String),
    stage           LowCardinality(String),
    guardrail       LowCardinality(String),
    action          LowCardinality(String),
    category        LowCardinality(String),
    count           UInt32,
    score           Nullable(Float64),
    latency_us      UInt64,
    at              DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, logical_model, request_id, stage, guardrail, category)
SETTINGS non_replicated_deduplication_window = 1000
