//! The durable job queue on `sync_jobs`: claim with a lease (PostgreSQL: `FOR UPDATE SKIP
//! LOCKED`, so many processes share it; SQLite: one process, the write lock serialises),
//! renew, retry with a delay, finish, dead-letter (a page's checkpoint is committed with
//! its records by `db::synced::commit_page`). A lease that runs out (the
//! worker crashed) makes the job claimable again, and it resumes from its checkpoint.

use sqlx::Row;

use super::{Backend, Db, SyncJob, now_ms};

/// Job statuses.
pub mod job_status {
    /// Waiting (possibly delayed until `run_at`).
    pub const PENDING: &str = "PENDING";
    /// Claimed by a worker holding a lease.
    pub const RUNNING: &str = "RUNNING";
    /// Done.
    pub const COMPLETED: &str = "COMPLETED";
    /// Failed for good (not worth retrying: credentials, configuration).
    pub const FAILED: &str = "FAILED";
    /// Out of attempts: the dead-letter state an admin can retry.
    pub const DEAD: &str = "DEAD";
    /// Dropped (the integration was paused or disconnected).
    pub const CANCELLED: &str = "CANCELLED";
}

/// Most jobs running at once per provider and per owner, in one host process.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Per provider.
    pub per_provider: i64,
    /// Per owner (a user or an organization).
    pub per_owner: i64,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            per_provider: i64::MAX,
            per_owner: i64::MAX,
        }
    }
}

/// The queue as the metrics see it.
#[derive(Debug, Clone, Default)]
pub struct QueueSnapshot {
    /// Jobs by (status, priority, count).
    pub by_status: Vec<(String, i64, i64)>,
    /// Running jobs by provider.
    pub running: Vec<(String, i64)>,
    /// How long the oldest due pending job has waited, ms (0 when none waits).
    pub oldest_due_wait_ms: i64,
}

impl Db {
    /// Claim the next runnable job for `worker` for `lease_ms`: a pending job whose time
    /// has come, or a running one whose lease expired; never a second job of an
    /// integration that has one running. Without caps (see [`Db::claim_job_capped`]).
    pub async fn claim_job(&self, worker: &str, lease_ms: i64) -> anyhow::Result<Option<SyncJob>> {
        self.claim_job_capped(worker, lease_ms, Caps::default())
            .await
    }

    /// [`Db::claim_job`], skipping jobs whose provider or owner already has `caps` jobs
    /// running under `worker` (one name per process: the caps share out a process's
    /// workers; two of its workers claiming at the same instant may pass a cap by one).
    pub async fn claim_job_capped(
        &self,
        worker: &str,
        lease_ms: i64,
        caps: Caps,
    ) -> anyhow::Result<Option<SyncJob>> {
        let now = now_ms();
        let live = "r.status = 'RUNNING' AND r.lease_until >= $3";
        // The caps count this worker's (this process's) running jobs: they share out its
        // workers, and grow with the replicas.
        let mine = "r.lease_owner = $1";
        let pick = format!(
            "SELECT j.id FROM sync_jobs j LEFT JOIN integrations i ON i.id = j.integration_id \
             WHERE ((j.status = 'PENDING' AND j.run_at <= $3) OR (j.status = 'RUNNING' AND j.lease_until < $3)) \
             AND NOT EXISTS (SELECT 1 FROM sync_jobs r WHERE r.integration_id = j.integration_id AND r.id <> j.id AND {live}) \
             AND (SELECT COUNT(*) FROM sync_jobs r WHERE r.provider = j.provider AND r.id <> j.id AND {mine} AND {live}) < $4 \
             AND (SELECT COUNT(*) FROM sync_jobs r JOIN integrations o ON o.id = r.integration_id \
                  WHERE o.owner_kind = i.owner_kind AND o.owner_id = i.owner_id AND r.id <> j.id AND {mine} AND {live}) < $5 \
             ORDER BY j.priority, j.run_at, j.created_at LIMIT 1"
        );
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE OF j SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE sync_jobs SET status = 'RUNNING', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
             started_at = COALESCE(started_at, $3) WHERE id = ({pick}{lock}) RETURNING id"
        );
        let row = sqlx::query(&sql)
            .bind(worker)
            .bind(now + lease_ms)
            .bind(now)
            .bind(caps.per_provider)
            .bind(caps.per_owner)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => self.sync_job(&r.get::<String, _>(0)).await,
            None => Ok(None),
        }
    }

    /// True when a job of another integration is due and waiting to be claimed (a walk
    /// at the end of its slice gives its worker up only then).
    pub async fn others_waiting(&self, integration: &str) -> anyhow::Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM sync_jobs WHERE status = 'PENDING' AND run_at <= $1 \
             AND (integration_id <> $2 OR mode = 'resource') LIMIT 1",
        )
        .bind(now_ms())
        .bind(integration)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// A walk's slice ended: back to the queue behind what is waiting (scheduled
    /// priority, due now), the attempt not counted; its checkpoint is already committed.
    /// False when the worker no longer holds the lease.
    pub async fn yield_job(&self, job_id: &str, worker: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE sync_jobs SET status = 'PENDING', run_at = $1, lease_owner = NULL, lease_until = NULL, \
             attempts = attempts - 1, priority = CASE WHEN priority < 5 THEN 5 ELSE priority END \
             WHERE id = $2 AND lease_owner = $3 AND status = 'RUNNING'",
        )
        .bind(now_ms())
        .bind(job_id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An incremental walk whose sync token the provider no longer accepts becomes a full
    /// walk from the start (recorded, so a walk resumed after a yield stays full). False
    /// when the worker no longer holds the lease.
    pub async fn walk_in_full(&self, job_id: &str, worker: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE sync_jobs SET mode = 'full', cursor = NULL \
             WHERE id = $1 AND lease_owner = $2 AND status = 'RUNNING'",
        )
        .bind(job_id)
        .bind(worker)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gauges of the queue: jobs by (status, priority) for the live statuses, running
    /// jobs by provider, and how long (ms) the oldest due pending job has waited.
    pub async fn queue_snapshot(&self) -> anyhow::Result<QueueSnapshot> {
        let now = now_ms();
        let by_status = sqlx::query(
            "SELECT status, priority, COUNT(*) FROM sync_jobs WHERE status IN ('PENDING', 'RUNNING', 'DEAD') \
             GROUP BY status, priority",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1), r.get::<i64, _>(2)))
        .collect();
        let running = sqlx::query(
            "SELECT provider, COUNT(*) FROM sync_jobs WHERE status = 'RUNNING' AND lease_until >= $1 GROUP BY provider",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
        .collect();
        let oldest: Option<i64> = sqlx::query(
            "SELECT MIN(run_at) FROM sync_jobs WHERE status = 'PENDING' AND run_at <= $1",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await?
        .get(0);
        Ok(QueueSnapshot {
            by_status,
            running,
            oldest_due_wait_ms: oldest.map(|t| now - t).unwrap_or(0),
        })
    }

    /// Extend a lease; false when the worker lost it (another took the job over).
    pub async fn renew_lease(
        &self,
        job_id: &str,
        worker: &str,
        lease_ms: i64,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE sync_jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'RUNNING'")
            .bind(now_ms() + lease_ms)
            .bind(job_id)
            .bind(worker)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// End a job (`COMPLETED`, `FAILED`, `DEAD`, `CANCELLED`).
    pub async fn end_job(
        &self,
        job_id: &str,
        status: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE sync_jobs SET status = $1, error_message = $2, completed_at = $3, lease_owner = NULL, lease_until = NULL WHERE id = $4",
        )
        .bind(status)
        .bind(error)
        .bind(now_ms())
        .bind(job_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Put a job back in the queue to run at `run_at` (backoff, rate-limit wait). With
    /// `refund`, the attempt does not count (a rate-limit wait is not a failure) and the
    /// job's count of refunded waits goes up.
    pub async fn delay_job(
        &self,
        job_id: &str,
        run_at: i64,
        error: &str,
        refund: bool,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE sync_jobs SET status = 'PENDING', run_at = $1, error_message = $2, lease_owner = NULL, lease_until = NULL, \
             attempts = attempts - $3, rate_waits = rate_waits + $3 WHERE id = $4",
        )
        .bind(run_at)
        .bind(error)
        .bind(refund as i64)
        .bind(job_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Retry a dead-lettered job now, with a fresh set of attempts; false when it is not
    /// dead or its integration already has another job queued or running.
    pub async fn retry_dead_job(&self, job_id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE sync_jobs SET status = 'PENDING', attempts = 0, run_at = $1, completed_at = NULL WHERE id = $2 AND status = 'DEAD' \
             AND NOT EXISTS (SELECT 1 FROM sync_jobs o WHERE o.integration_id = sync_jobs.integration_id AND o.status IN ('PENDING', 'RUNNING'))",
        )
        .bind(now_ms())
        .bind(job_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A walk completed: remember where the next incremental walk starts, reset failures.
    /// When the config changed after the walk started, the walk covered the old scope: the
    /// sync token and last sync are forgotten instead, and false is returned (a full walk
    /// is due).
    pub async fn finish_sync(
        &self,
        integration: &str,
        sync_token: Option<&str>,
        started_at: i64,
    ) -> anyhow::Result<bool> {
        sqlx::query(
            "UPDATE integrations SET \
             sync_token = CASE WHEN COALESCE(config_changed_at, 0) > $2 THEN NULL ELSE COALESCE($1, sync_token) END, \
             last_sync_at = CASE WHEN COALESCE(config_changed_at, 0) > $2 THEN NULL ELSE $2 END, consecutive_failures = 0, \
             status = CASE WHEN status IN ('PAUSED', 'DISCONNECTED') THEN status ELSE 'ACTIVE' END, last_error = NULL, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(sync_token)
        .bind(started_at)
        .bind(now_ms())
        .bind(integration)
        .execute(self.pool())
        .await?;
        let current: Option<i64> =
            sqlx::query("SELECT last_sync_at FROM integrations WHERE id = $1")
                .bind(integration)
                .fetch_optional(self.pool())
                .await?
                .and_then(|r| r.get(0));
        Ok(current.is_some())
    }

    /// The sync token of the last complete walk.
    pub async fn sync_token(&self, integration: &str) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT sync_token FROM integrations WHERE id = $1")
            .bind(integration)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.and_then(|r| r.get(0)))
    }

    /// Count a failed job against the integration; ERROR after `threshold` in a row.
    pub async fn record_failure(
        &self,
        integration: &str,
        message: &str,
        threshold: i64,
    ) -> anyhow::Result<i64> {
        sqlx::query(
            "UPDATE integrations SET consecutive_failures = consecutive_failures + 1, last_error = $1, updated_at = $2, \
             status = CASE WHEN consecutive_failures + 1 >= $3 AND status IN ('ACTIVE', 'RATE_LIMITED') THEN 'ERROR' ELSE status END \
             WHERE id = $4",
        )
        .bind(message)
        .bind(now_ms())
        .bind(threshold)
        .bind(integration)
        .execute(self.pool())
        .await?;
        let row = sqlx::query("SELECT consecutive_failures FROM integrations WHERE id = $1")
            .bind(integration)
            .fetch_one(self.pool())
            .await?;
        Ok(row.get(0))
    }

    /// Claim (or keep) ownership of the embedded index for `instance`: `None` when it is
    /// ours now, else the owning instance, alive within `stale_ms`.
    pub async fn claim_index_owner(
        &self,
        instance: &str,
        stale_ms: i64,
    ) -> anyhow::Result<Option<String>> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO embedded_index_owner (id, instance, heartbeat_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET instance = excluded.instance, heartbeat_at = excluded.heartbeat_at \
             WHERE embedded_index_owner.instance = excluded.instance OR embedded_index_owner.heartbeat_at < $3",
        )
        .bind(instance)
        .bind(now)
        .bind(now - stale_ms)
        .execute(self.pool())
        .await?;
        let owner: String = sqlx::query("SELECT instance FROM embedded_index_owner WHERE id = 1")
            .fetch_one(self.pool())
            .await?
            .get(0);
        Ok((owner != instance).then_some(owner))
    }
}
