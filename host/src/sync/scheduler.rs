//! The scheduler: queues syncs that are due by each integration's frequency, and the
//! worker loops that run the queue.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use super::SyncEngine;
use crate::db::{Db, now_ms};

/// Queue priorities: lower runs first (seed 004: webhooks 1, syncs 5).
pub mod priority {
    /// Webhook-triggered work.
    pub const WEBHOOK: i64 = 1;
    /// A user asked for it: ahead of scheduled syncs.
    pub const MANUAL: i64 = 2;
    /// Scheduled syncs.
    pub const SCHEDULE: i64 = 5;
}

/// Interval of a sync frequency; none for REALTIME (webhooks only) and MANUAL.
pub fn interval(frequency: &str) -> Option<i64> {
    match frequency {
        "FIFTEEN_MIN" => Some(15 * 60_000),
        "HOURLY" => Some(60 * 60_000),
        "DAILY" => Some(24 * 60 * 60_000),
        _ => None,
    }
}

/// Queue a sync for every integration that is due; returns how many were queued.
/// Paused, disconnected and token-expired integrations are never scheduled; one already
/// queued or running is not queued again, and one that another host synced since this
/// tick read it is not due any more.
pub async fn schedule_due(db: &Db) -> anyhow::Result<usize> {
    let rows = sqlx::query(
        "SELECT id, provider, sync_frequency, last_sync_at FROM integrations WHERE status IN ('ACTIVE', 'ERROR', 'RATE_LIMITED')",
    )
    .fetch_all(db.pool())
    .await?;
    let now = now_ms();
    let mut queued = 0;
    for r in rows {
        let (id, provider, frequency, last): (String, String, String, Option<i64>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let Some(every) = interval(&frequency) else {
            continue;
        };
        if last.is_some_and(|t| t + every > now) {
            continue;
        }
        let mode = if last.is_none() {
            "full"
        } else {
            "incremental"
        };
        queued += usize::from(db.schedule_sync(&id, &provider, mode, last).await?);
    }
    Ok(queued)
}

/// Running worker loops and the scheduler; [`Workers::stop`] ends them cleanly.
#[must_use = "dropping `Workers` stops the workers at their next page"]
pub struct Workers {
    engine: Arc<SyncEngine>,
    loops: Vec<tokio::task::JoinHandle<()>>,
    scheduler: tokio::task::JoinHandle<()>,
}

impl Workers {
    /// Stop: walks checkpoint at their next page and go back to the queue (another
    /// process, or this one after a restart, resumes them at once instead of waiting for
    /// the lease to run out); returns when every loop has ended.
    pub async fn stop(mut self) {
        self.engine.stop();
        self.scheduler.abort();
        for l in std::mem::take(&mut self.loops) {
            let _ = l.await;
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Dropped without `stop`: the loops still end at their next page.
        self.engine.stop();
        self.scheduler.abort();
    }
}

impl SyncEngine {
    /// Run `workers` loops over the queue and a scheduler tick every `tick`, until
    /// [`Workers::stop`].
    pub fn spawn(self: Arc<Self>, workers: usize, tick: Duration) -> Workers {
        let mut loops = Vec::new();
        for _ in 0..workers {
            let engine = self.clone();
            loops.push(tokio::spawn(async move {
                while !engine.stopping() {
                    match engine.run_once().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => {}
                        Err(e) => tracing::error!(error = %format!("{e:#}"), "sync worker failed"),
                    }
                    // Idle: poll again soon (other processes queue jobs too), or at once
                    // when this process queues one.
                    let db = &engine.runtime().services().db;
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                        () = db.job_queued() => {}
                    }
                }
            }));
        }
        let engine = self.clone();
        let scheduler = tokio::spawn(async move {
            loop {
                if let Err(e) = schedule_due(&engine.runtime().services().db).await {
                    tracing::error!(error = %format!("{e:#}"), "scheduler tick failed");
                }
                tokio::time::sleep(tick).await;
            }
        });
        Workers {
            engine: self,
            loops,
            scheduler,
        }
    }
}
