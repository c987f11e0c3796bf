-- `sync_jobs_claim (status, run_at)` serves every lookup by status; the index on status
-- alone only cost one more B-tree insert per job (a webhook of 5,000 changes queues 5,000).
DROP INDEX IF EXISTS sync_jobs_status;
