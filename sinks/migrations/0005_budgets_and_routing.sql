-- Budgets: the budget that downgraded or refused a request, every alert threshold reached, every
-- operator kill switch set or lifted; and spend per caller and model per day, from the usage rows.
-- Routing: the logical model that served a request and the complexity score that chose it.
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS budget LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS routed_model LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS route_score Nullable(Float64);

CREATE TABLE IF NOT EXISTS {db}.budget_events
(
    budget          LowCardinality(String),
    scope           LowCardinality(String),
    scope_value     String,
    period          String,
    period_end      DateTime64(6, 'UTC'),
    threshold       Float64,
    spent_usd       Float64,
    limit_usd       Float64,
    request_id      String,
    at              DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (budget, scope_value, period, threshold)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.control_events
(
    scope           LowCardinality(String),
    value           String,
    killed          Bool,
    reason          String,
    at              DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (scope, value, at)
SETTINGS non_replicated_deduplication_window = 1000;

-- Spend per tenant, team, user, feature and model per day: one query for "what did X cost".
-- A view over usage FINAL, so a replayed usage event is counted once.
CREATE VIEW IF NOT EXISTS {db}.spend_daily AS
SELECT
    toDate(at) AS day,
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
GROUP BY day, tenant, team, user, feature, logical_model, deployment
