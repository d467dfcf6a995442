-- Observability: traces (the request's trace id on its row, and a span per request, stage and
-- provider attempt), feedback, and the rollups behind the dashboards.
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS trace_id String DEFAULT '';
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS parent_span_id String DEFAULT '';

CREATE TABLE IF NOT EXISTS {db}.spans
(
    trace_id        String,
    span_id         String,
    parent_span_id  String,
    request_id      String,
    tenant          LowCardinality(String),
    name            LowCardinality(String),
    start           DateTime64(6, 'UTC'),
    end             DateTime64(6, 'UTC'),
    duration_us     UInt64,
    status          LowCardinality(String),
    attributes      Map(LowCardinality(String), String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start)
ORDER BY (trace_id, span_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.feedback
(
    feedback_id     String,
    request_id      String,
    tenant          LowCardinality(String),
    key_id          LowCardinality(String),
    user            String,
    score           Float64,
    comment         String,
    at              DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, request_id, feedback_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Feedback beside the request it rates; only a request of the same tenant joins.
CREATE VIEW IF NOT EXISTS {db}.feedback_by_route AS
SELECT
    toDate(f.at) AS day,
    f.tenant AS tenant,
    r.logical_model AS logical_model,
    r.routed_model AS routed_model,
    r.deployment AS deployment,
    count() AS ratings,
    avg(f.score) AS avg_score,
    countIf(f.score >= 0.5) / count() AS positive_share
FROM {db}.feedback AS f FINAL
INNER JOIN (SELECT request_id, tenant, logical_model, routed_model, deployment FROM {db}.requests FINAL) AS r
    ON f.request_id = r.request_id AND f.tenant = r.tenant
GROUP BY day, tenant, logical_model, routed_model, deployment;

CREATE VIEW IF NOT EXISTS {db}.spend_monthly AS
SELECT
    toStartOfMonth(at) AS month,
    tenant,
    team,
    user,
    feature,
    logical_model,
    deployment,
    count() AS calls,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(cost_usd) AS cost_usd
FROM {db}.usage FINAL
GROUP BY month, tenant, team, user, feature, logical_model, deployment;

-- Latency per day, tenant, route (the logical model named) and the model that served it.
CREATE VIEW IF NOT EXISTS {db}.latency_daily AS
SELECT
    toDate(received_at) AS day,
    tenant,
    logical_model,
    routed_model,
    deployment,
    count() AS requests,
    quantileExact(0.5)(total_us) / 1000 AS p50_ms,
    quantileExact(0.95)(total_us) / 1000 AS p95_ms,
    quantileExact(0.99)(total_us) / 1000 AS p99_ms,
    quantileExact(0.5)(total_us - upstream_us) / 1000 AS gateway_p50_ms,
    quantileExact(0.99)(total_us - upstream_us) / 1000 AS gateway_p99_ms,
    quantileExactIf(0.5)(ttft_us, stream AND ttft_us IS NOT NULL) / 1000 AS ttft_p50_ms
FROM {db}.requests FINAL
GROUP BY day, tenant, logical_model, routed_model, deployment;

-- Errors and fallbacks per day and deployment: a failed attempt is an error of its deployment; a
-- request whose answer came from another deployment than its first attempt's fell back.
CREATE VIEW IF NOT EXISTS {db}.deployment_health_daily AS
SELECT
    toDate(started_at) AS day,
    deployment,
    count() AS attempts,
    countIf(NOT ok) AS errors,
    countIf(NOT ok) / count() AS error_rate,
    countIf(NOT ok AND attempt_no = 1) AS fell_back_from
FROM {db}.attempts FINAL
GROUP BY day, deployment;

CREATE VIEW IF NOT EXISTS {db}.requests_daily AS
SELECT
    toDate(received_at) AS day,
    tenant,
    logical_model,
    count() AS requests,
    countIf(status >= 400) AS errors,
    countIf(status >= 400) / count() AS error_rate,
    countIf(length(attempts) > 1 AND status < 400) AS fallbacks,
    countIf(length(attempts) > 1 AND status < 400) / count() AS fallback_rate,
    countIf(guard_action = 'block') AS guard_blocks,
    countIf(guard_action = 'block') / count() AS guard_block_rate,
    sum(cost_usd) AS cost_usd,
    sum(cache_saved_usd) AS cache_saved_usd
FROM {db}.requests FINAL
GROUP BY day, tenant, logical_model;
