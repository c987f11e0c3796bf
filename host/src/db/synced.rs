//! The synced-resources table, read and written a page at a time: what the engine knows
//! of a page's resources in one query, and everything a page changed committed in one
//! transaction together with the job's checkpoint, so a crash leaves either the page
//! and its cursor or neither.

use std::collections::HashMap;

use sqlx::Row;

use super::{Db, SyncJob, backend_of, now_ms, numbered_rows, placeholders, positional};

/// A resource (re)ingested by a page.
#[derive(Debug, Clone)]
pub struct SyncedRecord {
    /// Provider's id.
    pub external_id: String,
    /// Resource kind.
    pub kind: String,
    /// Hash of the content as ingested.
    pub hash: String,
    /// Provider's version, when the listing carries one.
    pub version: Option<String>,
    /// Why the sink holds nothing of it; `None` when it is indexed.
    pub skipped: Option<String>,
    /// The provider's modified time of the content (ms), when it says.
    pub modified_at: Option<i64>,
}

/// What the record says the index holds of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Hash of the content.
    pub hash: String,
    /// The listing's version.
    pub version: Option<String>,
    /// The provider's modified time of the content (ms).
    pub modified_at: Option<i64>,
}

/// Everything one page changed in the record of the index.
#[derive(Debug, Default, Clone)]
pub struct PageWrite {
    /// Resources ingested (new or changed).
    pub upserts: Vec<SyncedRecord>,
    /// Unchanged resources the walk saw, with their latest version when it moved.
    pub seen: Vec<(String, Option<String>)>,
    /// Resources gone from the source.
    pub deleted: Vec<String>,
}

/// Rows per multi-row statement: well under SQLite's 32,766 bound parameters.
const BATCH: usize = 200;

/// Delete records in batches on one connection (a page's transaction or a pooled one).
async fn delete_records(
    conn: &mut sqlx::AnyConnection,
    integration: &str,
    ids: &[String],
) -> anyhow::Result<()> {
    for chunk in ids.chunks(BATCH) {
        let sql = format!(
            "DELETE FROM synced_resources WHERE integration_id = $1 AND external_id IN ({})",
            placeholders(2, chunk.len())
        );
        let sql = positional(&sql, backend_of(conn));
        let mut q = sqlx::query(&sql).bind(integration);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

impl Db {
    /// Forget every synced record of an integration (its index was purged).
    pub async fn purge_synced(&self, integration: &str) -> anyhow::Result<u64> {
        Ok(
            sqlx::query("DELETE FROM synced_resources WHERE integration_id = $1")
                .bind(integration)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Hash and version of the listed resources the index already holds.
    pub async fn synced_page(
        &self,
        integration: &str,
        ids: &[&str],
    ) -> anyhow::Result<HashMap<String, Held>> {
        let mut known = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT external_id, content_hash, version, modified_at FROM synced_resources WHERE integration_id = $1 \
                 AND external_id IN ({})",
                placeholders(2, chunk.len())
            );
            let sql = positional(&sql, self.backend());
            let mut q = sqlx::query(&sql).bind(integration);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(self.pool()).await? {
                let held = Held {
                    hash: r.get(1),
                    version: r.get(2),
                    modified_at: r.get(3),
                };
                known.insert(r.get(0), held);
            }
        }
        Ok(known)
    }

    /// Commit a page: its records and the job's checkpoint, atomically. False (and
    /// nothing written) when the worker no longer holds the job's lease.
    pub async fn commit_page(
        &self,
        integration: &str,
        job: &SyncJob,
        worker: &str,
        lease_ms: i64,
        page: &PageWrite,
    ) -> anyhow::Result<bool> {
        let mut tx = self.pool().begin().await?;
        let held = sqlx::query(
            "UPDATE sync_jobs SET cursor = $1, resources_found = $2, resources_synced = $3, resources_failed = $4, \
             error_details = $5, lease_until = $6, pages = $9 WHERE id = $7 AND lease_owner = $8 AND status = 'RUNNING'",
        )
        .bind(&job.cursor)
        .bind(job.resources_found)
        .bind(job.resources_synced)
        .bind(job.resources_failed)
        .bind(&job.error_details)
        .bind(now_ms() + lease_ms)
        .bind(&job.id)
        .bind(worker)
        .bind(job.pages)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !held {
            tx.rollback().await?;
            return Ok(false);
        }
        let now = now_ms();
        for chunk in page.upserts.chunks(BATCH) {
            // Integration and job are bound on every row: parameters numbered in order
            // bind in linear time on SQLite (see `positional`).
            let rows = numbered_rows(&format!("(?, ?, ?, ?, ?, ?, ?, ?, {now})"), chunk.len());
            let sql = format!(
                "INSERT INTO synced_resources (external_id, resource_type, content_hash, version, skip_reason, \
                 modified_at, integration_id, seen_job, last_synced_at) VALUES {rows} \
                 ON CONFLICT (integration_id, external_id) DO UPDATE SET resource_type = excluded.resource_type, \
                 content_hash = excluded.content_hash, version = excluded.version, skip_reason = excluded.skip_reason, \
                 modified_at = excluded.modified_at, last_synced_at = excluded.last_synced_at, seen_job = excluded.seen_job"
            );
            let sql = positional(&sql, self.backend());
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(&r.external_id)
                    .bind(&r.kind)
                    .bind(&r.hash)
                    .bind(&r.version)
                    .bind(&r.skipped)
                    .bind(r.modified_at)
                    .bind(integration)
                    .bind(&job.id);
            }
            q.execute(&mut *tx).await?;
        }
        let (same, moved): (Vec<_>, Vec<_>) = page.seen.iter().partition(|(_, v)| v.is_none());
        for chunk in same.chunks(BATCH) {
            let sql = format!(
                "UPDATE synced_resources SET seen_job = $1 WHERE integration_id = $2 AND external_id IN ({})",
                placeholders(3, chunk.len())
            );
            let sql = positional(&sql, self.backend());
            let mut q = sqlx::query(&sql).bind(&job.id).bind(integration);
            for (id, _) in chunk {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        for (id, version) in moved {
            sqlx::query(
                "UPDATE synced_resources SET seen_job = $1, version = $2 WHERE integration_id = $3 AND external_id = $4",
            )
            .bind(&job.id)
            .bind(version)
            .bind(integration)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        delete_records(&mut tx, integration, &page.deleted).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Resources of an integration that `job` did not see and nothing wrote since
    /// `started` (ms): a resource a webhook job wrote while the walk ran is not "unseen".
    pub async fn unseen(
        &self,
        integration: &str,
        job: &str,
        started: i64,
    ) -> anyhow::Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT external_id FROM synced_resources WHERE integration_id = $1 AND (seen_job IS NULL OR seen_job <> $2) \
             AND last_synced_at < $3",
        )
        .bind(integration)
        .bind(job)
        .bind(started)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Forget synced resources of an integration.
    pub async fn delete_synced(&self, integration: &str, ids: &[String]) -> anyhow::Result<()> {
        let mut conn = self.pool().acquire().await?;
        delete_records(&mut conn, integration, ids).await
    }

    /// Every synced resource of an integration: `(external id, content hash)`, sorted.
    pub async fn synced_all(&self, integration: &str) -> anyhow::Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT external_id, content_hash FROM synced_resources WHERE integration_id = $1 ORDER BY external_id")
            .bind(integration)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// External ids of an integration's resources that should have points (synced and
    /// not skipped).
    pub async fn indexed_ids(&self, integration: &str) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT external_id FROM synced_resources WHERE integration_id = $1 AND skip_reason IS NULL",
        )
        .bind(integration)
        .fetch_all(self.pool())
        .await?)
    }

    /// Why a synced resource holds nothing in the index (`None` when it is indexed or
    /// unknown).
    pub async fn skip_reason(
        &self,
        integration: &str,
        external_id: &str,
    ) -> anyhow::Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT skip_reason FROM synced_resources WHERE integration_id = $1 AND external_id = $2",
        )
        .bind(integration)
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?
        .flatten())
    }
}
