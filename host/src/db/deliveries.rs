//! Webhook deliveries: the durable record of each verified delivery (written in batches
//! before the provider gets its 2xx), and its fan-out into jobs, which marks it processed
//! in the same transaction so a delivery is turned into work exactly once.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::jobs::{ResourceJob, insert_resource_jobs, insert_walk, raise_walk};
use super::{Db, now_ms, numbered_rows, placeholders, positional};

/// Delivery states.
pub mod delivery_state {
    /// Recorded, not yet routed.
    pub const PENDING: &str = "PENDING";
    /// Routed: its changes became jobs of `queued` integrations' queues.
    pub const DONE: &str = "DONE";
    /// Routed to no integration that takes work (counted and listed for admins).
    pub const UNMATCHED: &str = "UNMATCHED";
    /// Its fan-out failed on its own (the error is kept; listed for admins).
    pub const FAILED: &str = "FAILED";
}

/// What a verified delivery asks for, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryWork {
    /// Resources announced changed.
    #[serde(default, rename = "u", skip_serializing_if = "Vec::is_empty")]
    pub upserts: Vec<String>,
    /// Resources announced deleted.
    #[serde(default, rename = "d", skip_serializing_if = "Vec::is_empty")]
    pub deletes: Vec<String>,
    /// "Something changed": an incremental walk.
    #[serde(default, rename = "s", skip_serializing_if = "std::ops::Not::not")]
    pub sync: bool,
}

/// A verified delivery on its way to the log.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// Our id for it.
    pub id: String,
    /// The provider whose plugin verified it.
    pub provider: String,
    /// Set when the callback URL named the integration.
    pub integration_id: Option<String>,
    /// The external account it is about (per-app routing).
    pub account_id: Option<String>,
    /// The provider's delivery id: a second delivery with it is a duplicate.
    pub delivery_id: Option<String>,
    /// What it asks for.
    pub work: DeliveryWork,
}

/// A recorded delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Our id.
    pub id: String,
    /// Provider id.
    pub provider: String,
    /// The integration the callback URL named.
    pub integration_id: Option<String>,
    /// The external account (per-app routing).
    pub account_id: Option<String>,
    /// The provider's delivery id.
    pub delivery_id: Option<String>,
    /// When it was recorded (ms).
    pub received_at: i64,
    /// PENDING, DONE, UNMATCHED or FAILED.
    pub state: String,
    /// How many integrations it was fanned out to.
    pub queued: i64,
    /// When it was routed (ms).
    pub processed_at: Option<i64>,
    /// Why its fan-out failed (FAILED).
    pub error: Option<String>,
    /// Resources it announced (changed and deleted).
    pub changes: usize,
    /// Whether it asked for an incremental walk.
    pub sync_requested: bool,
    #[serde(skip)]
    /// What it asks for.
    pub work: DeliveryWork,
}

const COLUMNS: &str = "id, provider, integration_id, account_id, delivery_id, received_at, outcome, state, queued, \
     processed_at, error";

fn delivery(r: &sqlx::any::AnyRow) -> Delivery {
    let work: DeliveryWork = serde_json::from_str(&r.get::<String, _>(6)).unwrap_or_default();
    Delivery {
        id: r.get(0),
        provider: r.get(1),
        integration_id: r.get(2),
        account_id: r.get(3),
        delivery_id: r.get(4),
        received_at: r.get(5),
        state: r.get(7),
        queued: r.get(8),
        processed_at: r.get(9),
        error: r.get(10),
        changes: work.upserts.len() + work.deletes.len(),
        sync_requested: work.sync,
        work,
    }
}

/// One integration a delivery's work goes to.
#[derive(Debug, Clone)]
pub struct Target {
    /// Integration id.
    pub integration_id: String,
    /// Its provider.
    pub provider: String,
}

/// Deliveries per INSERT statement: the intake's largest batch, so that one statement
/// records it (7 parameters each, 7,168 in all, below SQLite's 32,766 and PostgreSQL's
/// 65,535).
const ROWS_PER_INSERT: usize = crate::webhooks::MAX_BATCH;

impl Db {
    /// Record a batch of deliveries in one transaction. For each, true when it is new,
    /// false when the provider's delivery id was recorded before (a duplicate).
    pub async fn record_deliveries(&self, batch: &[NewDelivery]) -> anyhow::Result<Vec<bool>> {
        let now = now_ms();
        let _turn = self.write_turn().await;
        let mut inserted = std::collections::HashSet::with_capacity(batch.len());
        if batch.len() <= ROWS_PER_INSERT {
            // One statement commits on its own: BEGIN and COMMIT would be two more round
            // trips to sqlx's SQLite worker thread, which took as long as the insert.
            let mut conn = self.pool().acquire().await?;
            insert_deliveries(&mut conn, batch, now, &mut inserted).await?;
        } else {
            let mut tx = self.pool().begin().await?;
            for chunk in batch.chunks(ROWS_PER_INSERT) {
                insert_deliveries(&mut tx, chunk, now, &mut inserted).await?;
            }
            tx.commit().await?;
        }
        Ok(batch
            .iter()
            .map(|d| inserted.contains(d.id.as_str()))
            .collect())
    }

    /// The oldest deliveries not routed yet.
    pub async fn pending_deliveries(&self, limit: i64) -> anyhow::Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE state = 'PENDING' ORDER BY received_at, id LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(delivery).collect())
    }

    /// Recorded deliveries, newest first, optionally in one state.
    pub async fn deliveries(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE ($1 IS NULL OR state = $1) \
             ORDER BY received_at DESC, id LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(state)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(delivery).collect())
    }

    /// How many deliveries are in each state.
    pub async fn delivery_counts(&self) -> anyhow::Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) FROM webhook_deliveries GROUP BY state ORDER BY state",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Turn deliveries into jobs for their targets and mark them processed, all in one
    /// transaction: resource jobs (collapsed per resource while pending) and incremental
    /// walks at webhook priority. For each, false when another worker processed it first
    /// (nothing written for it).
    pub async fn fan_out(&self, batch: &[(Delivery, Vec<Target>)]) -> anyhow::Result<Vec<bool>> {
        let now = now_ms();
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        // Claimed first, so that on PostgreSQL a racing worker waits on these rows and
        // then finds them processed.
        let claimed = claim(&mut tx, now, batch).await?;
        let done: Vec<bool> = batch.iter().map(|(d, _)| claimed.contains(&d.id)).collect();
        let mine = || {
            batch
                .iter()
                .zip(&done)
                .filter(|(_, ok)| **ok)
                .map(|(b, _)| b)
        };
        let mut jobs = Vec::new();
        for (d, targets) in mine() {
            let changes = d
                .work
                .upserts
                .iter()
                .map(|id| (id, "upsert"))
                .chain(d.work.deletes.iter().map(|id| (id, "delete")));
            for (id, action) in changes {
                jobs.extend(targets.iter().map(|t| ResourceJob {
                    integration_id: &t.integration_id,
                    provider: &t.provider,
                    external_id: id,
                    action,
                }));
            }
        }
        insert_resource_jobs(&mut tx, &jobs, now).await?;
        for (_, targets) in mine().filter(|(d, _)| d.work.sync) {
            for t in targets {
                let job = super::ordered_id();
                let (id, provider) = (&t.integration_id, &t.provider);
                if !insert_walk(
                    &mut tx,
                    &job,
                    id,
                    provider,
                    "incremental",
                    "webhook",
                    1,
                    now,
                )
                .await?
                {
                    // A walk is queued already: move it up to webhook priority.
                    raise_walk(&mut tx, id, 1, now).await?;
                }
            }
        }
        tx.commit().await?;
        if mine().any(|(_, t)| !t.is_empty()) {
            self.wake_workers();
        }
        Ok(done)
    }

    /// Set a delivery whose fan-out fails on its own aside as FAILED with the reason, so
    /// it does not hold up the deliveries behind it.
    pub async fn fail_delivery(&self, id: &str, reason: &str) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'FAILED', processed_at = $1, error = $2 \
             WHERE id = $3 AND state = 'PENDING'",
        )
        .bind(now_ms())
        .bind(reason)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forget processed deliveries recorded before `before` (ms); their delivery ids
    /// stop counting as seen. Returns how many went.
    pub async fn prune_deliveries(&self, before: i64) -> anyhow::Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM webhook_deliveries WHERE state <> 'PENDING' AND received_at < $1",
        )
        .bind(before)
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}

/// Ids per claiming `UPDATE`.
const CLAIMS_PER_UPDATE: usize = 256;

/// Mark the batch's still-pending deliveries processed (DONE, or UNMATCHED without
/// targets); the ids this transaction claimed (another worker may have had the rest).
/// Insert `chunk` (one statement); adds the ids it wrote to `inserted`.
async fn insert_deliveries<'a>(
    conn: &mut sqlx::AnyConnection,
    chunk: &'a [NewDelivery],
    now: i64,
    inserted: &mut std::collections::HashSet<&'a str>,
) -> anyhow::Result<()> {
    let mut sql = String::from(
        "INSERT INTO webhook_deliveries (id, provider, integration_id, account_id, delivery_id, received_at, \
         outcome, state) VALUES ",
    );
    sql.push_str(&numbered_rows(
        "(?, ?, ?, ?, ?, ?, ?, 'PENDING')",
        chunk.len(),
    ));
    sql.push_str(" ON CONFLICT (provider, delivery_id) DO NOTHING");
    let sql = positional(&sql, super::backend_of(conn));
    let mut q = sqlx::query(&sql);
    for d in chunk {
        q = q
            .bind(&d.id)
            .bind(&d.provider)
            .bind(&d.integration_id)
            .bind(&d.account_id)
            .bind(&d.delivery_id)
            .bind(now)
            .bind(serde_json::to_string(&d.work)?);
    }
    // No `RETURNING`: sqlx-sqlite sends each returned row across threads. The usual batch
    // has no duplicate, and the count says so.
    if q.execute(&mut *conn).await?.rows_affected() as usize == chunk.len() {
        inserted.extend(chunk.iter().map(|d| d.id.as_str()));
        return Ok(());
    }
    // Our ids are new UUIDs: those present now were written by this statement (read after
    // its commit or inside its transaction alike).
    let sql = format!(
        "SELECT id FROM webhook_deliveries WHERE id IN ({})",
        placeholders(1, chunk.len())
    );
    let sql = positional(&sql, super::backend_of(conn));
    let mut q = sqlx::query(&sql);
    for d in chunk {
        q = q.bind(&d.id);
    }
    let written: std::collections::HashSet<String> = q
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    inserted.extend(
        chunk
            .iter()
            .filter(|d| written.contains(&d.id))
            .map(|d| d.id.as_str()),
    );
    Ok(())
}

async fn claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    now: i64,
    batch: &[(Delivery, Vec<Target>)],
) -> anyhow::Result<std::collections::HashSet<String>> {
    // One statement per (state, job count) group: deliveries come in runs of one
    // integration, so a batch has few groups.
    let mut groups: std::collections::BTreeMap<(&str, i64), Vec<&str>> = Default::default();
    for (d, targets) in batch {
        let state = if targets.is_empty() {
            delivery_state::UNMATCHED
        } else {
            delivery_state::DONE
        };
        groups
            .entry((state, targets.len() as i64))
            .or_default()
            .push(&d.id);
    }
    let mut claimed = std::collections::HashSet::with_capacity(batch.len());
    for ((state, queued), ids) in groups {
        for chunk in ids.chunks(CLAIMS_PER_UPDATE) {
            let sql = format!(
                "UPDATE webhook_deliveries SET state = $1, queued = $2, processed_at = $3 \
                 WHERE state = 'PENDING' AND id IN ({}) RETURNING id",
                placeholders(4, chunk.len())
            );
            let sql = positional(&sql, super::backend_of(tx));
            let mut q = sqlx::query(&sql).bind(state).bind(queued).bind(now);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&mut **tx).await? {
                claimed.insert(row.get::<String, _>(0));
            }
        }
    }
    Ok(claimed)
}
