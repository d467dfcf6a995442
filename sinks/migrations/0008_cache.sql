-- The response cache: each request's cache status, and for a hit which cache answered, how close it
-- was, the entry, and what the reused answer had cost (what the hit saved).
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS cache_status LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS cache_kind LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS cache_similarity Nullable(Float64);
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS cache_entry String DEFAULT '';
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS cache_saved_usd Float64 DEFAULT 0;

-- Hit rate and savings per day, tenant and logical model (requests the cache could answer only).
CREATE VIEW IF NOT EXISTS {db}.cache_daily AS
SELECT
    toDate(received_at) AS day,
    tenant,
    logical_model,
    countIf(cache_status IN ('hit', 'miss')) AS lookups,
    countIf(cache_status = 'hit') AS hits,
    countIf(cache_kind = 'exact') AS exact_hits,
    countIf(cache_kind = 'semantic') AS semantic_hits,
    if(lookups = 0, 0, hits / lookups) AS hit_rate,
    sum(cache_saved_usd) AS saved_usd
FROM {db}.requests FINAL
GROUP BY day, tenant, logical_model;
