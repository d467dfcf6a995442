-- Why a request went where it went: the route's reason (primary, fallback) and the rate limits'
-- verdict (admit, downgrade, queue, fail_open), with the model it was downgraded from.
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS route_reason LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS limit_action LowCardinality(String) DEFAULT '';
ALTER TABLE {db}.requests ADD COLUMN IF NOT EXISTS downgraded_from LowCardinality(String) DEFAULT ''
