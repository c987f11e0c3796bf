-- Resource jobs (one change a webhook announced) share the queue with walks: mode
-- 'resource', the resource's id and 'upsert' or 'delete'. Many webhook calls about one
-- resource collapse into one pending job; the one-walk-per-integration invariant no
-- longer counts resource jobs. The claim query still runs one job of an integration at
-- a time, of either kind.
ALTER TABLE sync_jobs ADD COLUMN external_id TEXT;
ALTER TABLE sync_jobs ADD COLUMN action TEXT;
DROP INDEX sync_jobs_one_active;
CREATE UNIQUE INDEX sync_jobs_one_active ON sync_jobs (integration_id) WHERE status IN ('PENDING', 'RUNNING') AND mode <> 'resource';
CREATE UNIQUE INDEX sync_jobs_one_resource ON sync_jobs (integration_id, external_id) WHERE status = 'PENDING' AND mode = 'resource';
-- A provider's request budget shared by every host process (GCRA: the theoretical
-- arrival time of the next request, in microseconds of the database's clock).
CREATE TABLE rate_budgets (
    bucket TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
);
