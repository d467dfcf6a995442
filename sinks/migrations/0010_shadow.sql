-- turnout replay --live: the requests whose decision changed, sent to the candidate deployment;
-- both answers, their similarity, and what the candidate call cost and took.
CREATE TABLE IF NOT EXISTS {db}.shadow_answers
(
    run_id                String,
    request_id            String,
    tenant                LowCardinality(String),
    at                    DateTime64(6, 'UTC'),
    original_deployment   LowCardinality(String),
    candidate_deployment  LowCardinality(String),
    status                UInt16,
    latency_us            UInt64,
    prompt_tokens         UInt32,
    completion_tokens     UInt32,
    cost_usd              Float64,
    original_answer       Nullable(String),
    candidate_answer      Nullable(String),
    similarity            Nullable(Float64),
    error_class           LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (run_id, request_id)
SETTINGS non_replicated_deduplication_window = 1000;
