-- Sync engine: sync_jobs doubles as the durable job queue (priority, attempts, delayed
-- runs, leases so a crashed worker's job is taken over); integrations keep the token of
-- their last complete walk; synced resources remember the job that last saw them, which
-- is how a complete full walk finds what the source deleted.
ALTER TABLE sync_jobs ADD COLUMN priority BIGINT NOT NULL DEFAULT 5;
ALTER TABLE sync_jobs ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_jobs ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 3;
ALTER TABLE sync_jobs ADD COLUMN run_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE sync_jobs ADD COLUMN lease_until BIGINT;
CREATE INDEX sync_jobs_claim ON sync_jobs (status, run_at);
ALTER TABLE integrations ADD COLUMN sync_token TEXT;
ALTER TABLE integrations ADD COLUMN consecutive_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE synced_resources ADD COLUMN seen_job TEXT;
-- One queued or running sync job per integration, as an invariant of the database, so
-- replicas racing to queue the same sync cannot both succeed.
CREATE UNIQUE INDEX sync_jobs_one_active ON sync_jobs (integration_id) WHERE status IN ('PENDING', 'RUNNING');
