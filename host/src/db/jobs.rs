//! Sync-job records: created by a manual sync (the sync engine runs them), listed and
//! shown to admins, summed up in the stats.

use serde::Serialize;
use sqlx::Row;

use super::{Db, now_ms, numbered_rows};

/// One sync job as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncJob {
    /// Id.
    pub id: String,
    /// Integration.
    pub integration_id: String,
    /// Provider.
    pub provider: String,
    /// `full`, `incremental`, `resource`, or `action` (a recorded action run).
    pub mode: String,
    /// `manual`, `schedule`, `webhook`, `connect` or `api` (an action).
    pub trigger: String,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`.
    pub status: String,
    /// Created, ms.
    pub created_at: i64,
    /// Started, ms.
    pub started_at: Option<i64>,
    /// Finished, ms.
    pub completed_at: Option<i64>,
    /// Resources found.
    pub resources_found: i64,
    /// Resources synced.
    pub resources_synced: i64,
    /// Resources failed.
    pub resources_failed: i64,
    /// Checkpointed cursor.
    pub cursor: Option<String>,
    /// Error message.
    pub error_message: Option<String>,
    /// Per-resource failures (JSON array).
    pub error_details: Option<String>,
    /// Queue priority (lower first).
    pub priority: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// Attempts before the dead letter.
    pub max_attempts: i64,
    /// Not before, ms.
    pub run_at: i64,
    /// Resource jobs: the resource's id at the provider.
    pub external_id: Option<String>,
    /// Resource jobs: `upsert` or `delete`.
    pub action: Option<String>,
    /// Pages this walk has committed, across its slices.
    pub pages: i64,
    /// Rate-limit waits that did not count as attempts.
    pub rate_waits: i64,
}

impl SyncJob {
    /// A single-resource job (from a webhook) rather than a walk.
    pub fn is_resource(&self) -> bool {
        self.mode == "resource"
    }
}

const COLUMNS: &str = "id, integration_id, provider, mode, trigger, status, created_at, started_at, completed_at, \
    resources_found, resources_synced, resources_failed, cursor, error_message, error_details, priority, attempts, \
    max_attempts, run_at, external_id, action, pages, rate_waits";

fn job(r: &sqlx::any::AnyRow) -> SyncJob {
    SyncJob {
        id: r.get(0),
        integration_id: r.get(1),
        provider: r.get(2),
        mode: r.get(3),
        trigger: r.get(4),
        status: r.get(5),
        created_at: r.get(6),
        started_at: r.get(7),
        completed_at: r.get(8),
        resources_found: r.get(9),
        resources_synced: r.get(10),
        resources_failed: r.get(11),
        cursor: r.get(12),
        error_message: r.get(13),
        error_details: r.get(14),
        priority: r.get(15),
        attempts: r.get(16),
        max_attempts: r.get(17),
        run_at: r.get(18),
        external_id: r.get(19),
        action: r.get(20),
        pages: r.get(21),
        rate_waits: r.get(22),
    }
}

/// Aggregates for the admin dashboard.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Integrations by status.
    pub integrations_by_status: std::collections::BTreeMap<String, i64>,
    /// Jobs by status.
    pub jobs_by_status: std::collections::BTreeMap<String, i64>,
    /// Completed / (completed + failed), when any finished.
    pub success_rate: Option<f64>,
}

impl Db {
    /// Record a run of a plugin action in the job log (mode `action`, trigger `api`):
    /// which action, who asked, how it ended. Born finished, so no worker claims it.
    pub async fn record_action(
        &self,
        integration_id: &str,
        provider: &str,
        action: &str,
        user_id: &str,
        error: Option<&str>,
    ) -> anyhow::Result<String> {
        let id = super::ordered_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sync_jobs (id, integration_id, provider, mode, trigger, status, created_at, started_at, \
             completed_at, priority, run_at, external_id, error_message, error_details) \
             VALUES ($1, $2, $3, 'action', 'api', $4, $5, $5, $5, 0, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(integration_id)
        .bind(provider)
        .bind(if error.is_some() { "FAILED" } else { "COMPLETED" })
        .bind(now)
        .bind(action)
        .bind(error)
        .bind(serde_json::json!({ "user_id": user_id }).to_string())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// Queue a sync job unless one is already pending or running for the integration
    /// (then a more urgent trigger moves that one up). Returns the job and whether it is
    /// new. Priority by trigger: webhook 1, manual 2 (ahead of scheduled), schedule 5.
    pub async fn request_sync(
        &self,
        integration_id: &str,
        provider: &str,
        mode: &str,
        trigger: &str,
    ) -> anyhow::Result<(SyncJob, bool)> {
        let priority = match trigger {
            "webhook" => 1,
            "manual" | "connect" | "config" => 2,
            _ => 5,
        };
        let now = now_ms();
        let id = uuid::Uuid::new_v4().to_string();
        let mut conn = self.pool().acquire().await?;
        if insert_walk(
            &mut conn,
            &id,
            integration_id,
            provider,
            mode,
            trigger,
            priority,
            now,
        )
        .await?
        {
            drop(conn);
            self.wake_workers();
            let job = self
                .sync_job(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("job vanished"))?;
            return Ok((job, true));
        }
        raise_walk(&mut conn, integration_id, priority, now).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM sync_jobs WHERE integration_id = $1 AND status IN ('PENDING', 'RUNNING') \
             AND mode <> 'resource' LIMIT 1"
        );
        let existing = job(&sqlx::query(&sql)
            .bind(integration_id)
            .fetch_one(&mut *conn)
            .await?);
        Ok((existing, false))
    }

    /// Queue a scheduled sync, but only while the integration's last sync is still the
    /// one the scheduler saw (`observed_last`): a sync that completed in between (on any
    /// host) makes it not due any more. True when a job was queued.
    pub async fn schedule_sync(
        &self,
        integration_id: &str,
        provider: &str,
        mode: &str,
        observed_last: Option<i64>,
    ) -> anyhow::Result<bool> {
        // The tick read `last_sync_at` a while ago; the insert re-checks it. On
        // PostgreSQL a statement's snapshot can predate a walk that commits before the
        // unique-index check runs, so the integration row is locked first: FOR UPDATE
        // waits for a concurrent `finish_sync`, and a walk finishing later blocks on the
        // lock until the insert has met its still-running job in the index. SQLite
        // serializes writers, so the single statement is enough there.
        let mut tx = self.pool().begin().await?;
        if self.backend() == super::Backend::Postgres {
            sqlx::query("SELECT 1 FROM integrations WHERE id = $1 FOR UPDATE")
                .bind(integration_id)
                .execute(&mut *tx)
                .await?;
        }
        let now = now_ms();
        let done = sqlx::query(
            "INSERT INTO sync_jobs (id, integration_id, provider, mode, trigger, status, created_at, priority, run_at) \
             SELECT $1, $2, $3, $4, 'schedule', 'PENDING', $5, 5, $5 FROM integrations \
             WHERE id = $2 AND COALESCE(last_sync_at, -1) = $6 \
             ON CONFLICT (integration_id) WHERE status IN ('PENDING', 'RUNNING') AND mode <> 'resource' DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(integration_id)
        .bind(provider)
        .bind(mode)
        .bind(now)
        .bind(observed_last.unwrap_or(-1))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if done.rows_affected() == 1 {
            self.wake_workers();
        }
        Ok(done.rows_affected() == 1)
    }

    /// Queue a resource job (a webhook's change): `action` is `upsert` or `delete`. A
    /// pending job for the same resource absorbs it (the latest action wins).
    pub async fn request_resource(
        &self,
        integration_id: &str,
        provider: &str,
        external_id: &str,
        action: &str,
    ) -> anyhow::Result<()> {
        let mut conn = self.pool().acquire().await?;
        let job = ResourceJob {
            integration_id,
            provider,
            external_id,
            action,
        };
        insert_resource_jobs(&mut conn, &[job], now_ms()).await?;
        drop(conn);
        self.wake_workers();
        Ok(())
    }

    /// One job.
    pub async fn sync_job(&self, id: &str) -> anyhow::Result<Option<SyncJob>> {
        let sql = format!("SELECT {COLUMNS} FROM sync_jobs WHERE id = $1");
        Ok(sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(job))
    }

    /// The most recent jobs, optionally of one integration and in one status.
    pub async fn sync_jobs_where(
        &self,
        integration_id: Option<&str>,
        status: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<SyncJob>> {
        // Filters bind as ($1 IS NULL OR …) so one statement serves every combination.
        let sql = format!(
            "SELECT {COLUMNS} FROM sync_jobs WHERE ($1 IS NULL OR integration_id = $1) AND ($2 IS NULL OR status = $2) \
             ORDER BY created_at DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(integration_id)
            .bind(status)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(job).collect())
    }

    /// The most recent jobs, optionally of one integration.
    pub async fn sync_jobs(
        &self,
        integration_id: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<SyncJob>> {
        self.sync_jobs_where(integration_id, None, limit).await
    }

    /// Webhook changes of an integration waiting to be applied.
    pub async fn pending_resource_jobs(&self, integration_id: &str) -> anyhow::Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM sync_jobs WHERE integration_id = $1 AND mode = 'resource' AND status = 'PENDING'",
        )
        .bind(integration_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.get(0))
    }

    /// Jobs of the integrations `user_id` may see (own and their organizations'),
    /// queued or running, or finished at or after `since` (ms).
    pub async fn visible_jobs(&self, user_id: &str, since: i64) -> anyhow::Result<Vec<SyncJob>> {
        let cols = COLUMNS
            .split(", ")
            .map(|c| format!("j.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {cols} FROM sync_jobs j JOIN integrations i ON i.id = j.integration_id \
             WHERE ((i.owner_kind = 'user' AND i.owner_id = $1) OR (i.owner_kind = 'org' AND i.owner_id IN \
             (SELECT org_id FROM memberships WHERE user_id = $1))) \
             AND (j.status IN ('PENDING', 'RUNNING') OR j.completed_at >= $2) ORDER BY j.created_at LIMIT 500"
        );
        let rows = sqlx::query(&sql)
            .bind(user_id)
            .bind(since)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(job).collect())
    }

    /// Aggregate stats.
    pub async fn stats(&self) -> anyhow::Result<Stats> {
        let count = |sql: &'static str| async move {
            let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
            anyhow::Ok(
                rows.iter()
                    .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )
        };
        let integrations_by_status =
            count("SELECT status, COUNT(*) FROM integrations GROUP BY status").await?;
        let jobs_by_status =
            count("SELECT status, COUNT(*) FROM sync_jobs GROUP BY status").await?;
        let done = jobs_by_status.get("COMPLETED").copied().unwrap_or(0);
        let failed = jobs_by_status.get("FAILED").copied().unwrap_or(0);
        let success_rate = (done + failed > 0).then(|| done as f64 / (done + failed) as f64);
        Ok(Stats {
            integrations_by_status,
            jobs_by_status,
            success_rate,
        })
    }
}

/// Queue a walk unless the integration has one pending or running (the partial unique
/// index keeps one per integration, even when replicas race). True when inserted.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_walk(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    integration_id: &str,
    provider: &str,
    mode: &str,
    trigger: &str,
    priority: i64,
    now: i64,
) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO sync_jobs (id, integration_id, provider, mode, trigger, status, created_at, priority, run_at) \
         VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, $8) \
         ON CONFLICT (integration_id) WHERE status IN ('PENDING', 'RUNNING') AND mode <> 'resource' DO NOTHING",
    )
    .bind(id)
    .bind(integration_id)
    .bind(provider)
    .bind(mode)
    .bind(trigger)
    .bind(now)
    .bind(priority)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Move the integration's pending walk up to `priority` (and its start to now at the
/// latest) when it is less urgent.
pub(super) async fn raise_walk(
    conn: &mut sqlx::AnyConnection,
    integration_id: &str,
    priority: i64,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE sync_jobs SET priority = $1, run_at = CASE WHEN run_at < $2 THEN run_at ELSE $2 END \
         WHERE integration_id = $3 AND status = 'PENDING' AND mode <> 'resource' AND priority > $1",
    )
    .bind(priority)
    .bind(now)
    .bind(integration_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A resource job to queue: a webhook's change to one resource of one integration.
#[derive(Debug, Clone, Copy)]
pub(super) struct ResourceJob<'a> {
    pub integration_id: &'a str,
    pub provider: &'a str,
    pub external_id: &'a str,
    /// `upsert` or `delete`.
    pub action: &'a str,
}

/// Rows per multi-row job insert (7 parameters each, well under SQLite's limit).
const JOBS_PER_INSERT: usize = 256;

/// Queue resource jobs, each collapsed into the pending one of the same resource (the
/// latest action wins). Multi-row statements: on SQLite each statement is a round trip
/// to sqlx's worker thread, taken while the write lock is held.
pub(super) async fn insert_resource_jobs(
    conn: &mut sqlx::AnyConnection,
    jobs: &[ResourceJob<'_>],
    now: i64,
) -> anyhow::Result<()> {
    // One statement may not touch a row twice (PostgreSQL refuses `ON CONFLICT DO
    // UPDATE` on a repeat): keep each resource's last action, in first-seen order.
    let mut last = std::collections::HashMap::with_capacity(jobs.len());
    for (i, j) in jobs.iter().enumerate() {
        last.insert((j.integration_id, j.external_id), i);
    }
    let unique: Vec<ResourceJob> = jobs
        .iter()
        .enumerate()
        .filter(|(i, j)| last[&(j.integration_id, j.external_id)] == *i)
        .map(|(_, j)| *j)
        .collect();
    for chunk in unique.chunks(JOBS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO sync_jobs (id, integration_id, provider, mode, trigger, status, created_at, priority, run_at, \
             external_id, action) VALUES ",
        );
        sql.push_str(&numbered_rows(
            "(?, ?, ?, 'resource', 'webhook', 'PENDING', ?, 1, ?, ?, ?)",
            chunk.len(),
        ));
        sql.push_str(
            " ON CONFLICT (integration_id, external_id) WHERE status = 'PENDING' AND mode = 'resource' \
             DO UPDATE SET action = excluded.action",
        );
        let sql = super::positional(&sql, super::backend_of(conn));
        let mut q = sqlx::query(&sql);
        for j in chunk {
            q = q
                .bind(super::ordered_id())
                .bind(j.integration_id)
                .bind(j.provider)
                .bind(now)
                .bind(now)
                .bind(j.external_id)
                .bind(j.action);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
