//! Running one sync job: claim, walk page by page from the checkpoint, decide the
//! outcome.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Sink;
use crate::bindings::PluginError;
use crate::bindings::api::{ListMode, ListRequest, Resource};
use crate::db::{Integration as Row, SyncJob, job_status, now_ms, status};
use crate::runtime::{CallError, Integration, Runtime, Session};

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This worker's name in leases.
    pub worker: String,
    /// How long a claim lasts without a checkpoint or renewal.
    pub lease: Duration,
    /// Page size asked of plugins.
    pub page_size: u32,
    /// First retry delay; doubles with every attempt (seed 004: 5 s).
    pub backoff_base: Duration,
    /// Consecutive failed jobs that put an integration in ERROR.
    pub error_threshold: i64,
    /// Wait when a provider rate-limits without saying for how long.
    pub default_rate_limit_wait: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            worker: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(60),
            page_size: 100,
            backoff_base: Duration::from_secs(5),
            error_threshold: 3,
            default_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

/// What became of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The walk finished.
    Completed,
    /// Back in the queue for later (backoff or rate-limit wait).
    Delayed,
    /// Failed for good (credentials, configuration).
    Failed,
    /// Out of attempts: dead-lettered.
    Dead,
    /// The integration is paused, disconnected or needs reconnecting.
    Cancelled,
    /// Another worker took the job over (our lease ran out).
    Lost,
}

enum Stop {
    Call(CallError),
    Lost,
    Storage(anyhow::Error),
}

impl From<CallError> for Stop {
    fn from(e: CallError) -> Self {
        Stop::Call(e)
    }
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Stop::Storage(e)
    }
}

/// Most per-resource failures kept on a job.
const MAX_RECORDED_FAILURES: usize = 200;

/// Runs sync jobs.
pub struct SyncEngine {
    runtime: Runtime,
    sink: Arc<dyn Sink>,
    config: EngineConfig,
}

fn lease_ms(c: &EngineConfig) -> i64 {
    c.lease.as_millis() as i64
}

impl SyncEngine {
    /// An engine over `runtime` writing to `sink`.
    pub fn new(runtime: Runtime, sink: Arc<dyn Sink>, config: EngineConfig) -> Self {
        SyncEngine {
            runtime,
            sink,
            config,
        }
    }

    /// The runtime jobs run on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Claim and run one job; `None` when nothing is runnable now.
    pub async fn run_once(&self) -> anyhow::Result<Option<(String, Outcome)>> {
        let db = &self.runtime.services().db;
        let Some(job) = db
            .claim_job(&self.config.worker, lease_ms(&self.config))
            .await?
        else {
            return Ok(None);
        };
        let id = job.id.clone();
        Ok(Some((id, self.run(job).await?)))
    }

    async fn run(&self, mut job: SyncJob) -> anyhow::Result<Outcome> {
        let db = &self.runtime.services().db;
        let Some(row) = db.integration_by_id(&job.integration_id).await? else {
            db.end_job(
                &job.id,
                job_status::CANCELLED,
                Some("the integration no longer exists"),
            )
            .await?;
            return Ok(Outcome::Cancelled);
        };
        if matches!(
            row.status.as_str(),
            status::PAUSED | status::DISCONNECTED | status::TOKEN_EXPIRED
        ) {
            db.end_job(
                &job.id,
                job_status::CANCELLED,
                Some(&format!("the integration is {}", row.status)),
            )
            .await?;
            return Ok(Outcome::Cancelled);
        }
        let started = job.started_at.unwrap_or_else(now_ms);
        match self.walk(&row, &mut job).await {
            Ok(token) => {
                db.finish_sync(&row.id, token.as_deref(), started).await?;
                db.end_job(&job.id, job_status::COMPLETED, None).await?;
                Ok(Outcome::Completed)
            }
            Err(Stop::Lost) => Ok(Outcome::Lost),
            Err(Stop::Storage(e)) => {
                self.retry_or_bury(&row, &job, &format!("storage failed: {e:#}"))
                    .await
            }
            Err(Stop::Call(e)) => self.settle_failure(&row, &job, e).await,
        }
    }

    async fn settle_failure(
        &self,
        row: &Row,
        job: &SyncJob,
        e: CallError,
    ) -> anyhow::Result<Outcome> {
        let db = &self.runtime.services().db;
        let msg = e.to_string();
        match &e {
            CallError::Plugin(PluginError::RateLimited(r)) => {
                let wait = r
                    .retry_after_ms
                    .map(|ms| ms as i64)
                    .unwrap_or(self.config.default_rate_limit_wait.as_millis() as i64);
                db.set_integration_status(&row.id, status::RATE_LIMITED, Some(&msg))
                    .await?;
                db.delay_job(&job.id, now_ms() + wait, &msg, true).await?;
                Ok(Outcome::Delayed)
            }
            CallError::Plugin(PluginError::Unauthorized(_)) => {
                // The credential store already tried a refresh; reconnecting is the way out.
                db.set_integration_status(&row.id, status::TOKEN_EXPIRED, Some(&msg))
                    .await?;
                db.end_job(&job.id, job_status::FAILED, Some(&msg)).await?;
                Ok(Outcome::Failed)
            }
            CallError::Plugin(PluginError::InvalidConfig(_)) | CallError::NotInstalled(_) => {
                db.record_failure(&row.id, &msg, 1).await?;
                db.end_job(&job.id, job_status::FAILED, Some(&msg)).await?;
                Ok(Outcome::Failed)
            }
            _ => self.retry_or_bury(row, job, &msg).await,
        }
    }

    async fn retry_or_bury(&self, row: &Row, job: &SyncJob, msg: &str) -> anyhow::Result<Outcome> {
        let db = &self.runtime.services().db;
        if job.attempts < job.max_attempts {
            let backoff = self.config.backoff_base.as_millis() as i64
                * (1 << (job.attempts - 1).clamp(0, 16));
            db.delay_job(&job.id, now_ms() + backoff, msg, false)
                .await?;
            return Ok(Outcome::Delayed);
        }
        db.end_job(&job.id, job_status::DEAD, Some(msg)).await?;
        db.record_failure(&row.id, msg, self.config.error_threshold)
            .await?;
        Ok(Outcome::Dead)
    }

    /// Walk the integration; returns the sync token of the last page.
    async fn walk(&self, row: &Row, job: &mut SyncJob) -> Result<Option<String>, Stop> {
        let db = &self.runtime.services().db;
        let mut session = self
            .runtime
            .session(
                &row.provider,
                Some(Integration::new(&row.id, row.config_pairs())),
            )
            .await?;
        let incremental = job.mode == "incremental" && row.last_sync_at.is_some();
        let mut req = ListRequest {
            mode: if incremental {
                ListMode::Incremental
            } else {
                ListMode::Full
            },
            cursor: job.cursor.clone(),
            sync_token: if incremental {
                db.sync_token(&row.id).await?
            } else {
                None
            },
            modified_after: if incremental { row.last_sync_at } else { None },
            page_size: self.config.page_size,
        };
        let mut failures: Vec<Value> = job
            .error_details
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        loop {
            let page = session.list(&req).await?;
            for r in &page.resources {
                job.resources_found += 1;
                match self.one(&mut session, row, r, &job.id).await {
                    Ok(true) => job.resources_synced += 1,
                    Ok(false) => {}
                    Err(Stop::Call(CallError::Plugin(PluginError::NotFound(_)))) => {
                        // Gone between the listing and the fetch: treat as deleted.
                        self.remove(row, &r.id).await?;
                    }
                    Err(Stop::Call(CallError::Plugin(
                        e @ (PluginError::Other(_)
                        | PluginError::InvalidInput(_)
                        | PluginError::Forbidden(_)),
                    ))) => {
                        job.resources_failed += 1;
                        if failures.len() < MAX_RECORDED_FAILURES {
                            failures
                                .push(json!({"id": r.id, "code": e.code(), "error": e.message()}));
                        }
                    }
                    Err(other) => return Err(other),
                }
            }
            for id in &page.deleted {
                self.remove(row, id).await?;
            }
            job.cursor = page.next_cursor.clone();
            job.error_details =
                (!failures.is_empty()).then(|| Value::Array(failures.clone()).to_string());
            if !db
                .checkpoint(job, &self.config.worker, lease_ms(&self.config))
                .await?
            {
                return Err(Stop::Lost);
            }
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => {
                    if req.mode == ListMode::Full {
                        // Only now, after a complete walk, is "not seen" the same as "deleted".
                        for id in db.unseen(&row.id, &job.id).await? {
                            self.remove(row, &id).await?;
                        }
                    }
                    return Ok(page.sync_token);
                }
            }
        }
    }

    /// Sync one listed resource; true when it was (re)ingested.
    async fn one(
        &self,
        session: &mut Session,
        row: &Row,
        r: &Resource,
        job: &str,
    ) -> Result<bool, Stop> {
        let db = &self.runtime.services().db;
        let known = db.synced(&row.id, &r.id).await?;
        if let (Some((_, Some(v))), Some(now)) = (&known, &r.version)
            && v == now
            && r.content.is_none()
        {
            db.mark_seen(&row.id, &r.id, None, job).await?;
            return Ok(false);
        }
        let content = match &r.content {
            Some(c) => c.clone(),
            None => session.fetch(&r.id).await?,
        };
        if known
            .as_ref()
            .is_some_and(|(hash, _)| *hash == content.content_hash)
        {
            db.mark_seen(&row.id, &r.id, r.version.as_deref(), job)
                .await?;
            return Ok(false);
        }
        self.sink.upsert(row, &content).await?;
        db.record_synced(
            &row.id,
            &r.id,
            &content.kind,
            &content.content_hash,
            r.version.as_deref(),
            job,
        )
        .await?;
        Ok(true)
    }

    async fn remove(&self, row: &Row, id: &str) -> Result<(), Stop> {
        self.sink.delete(row, id).await?;
        self.runtime
            .services()
            .db
            .delete_synced(&row.id, id)
            .await?;
        Ok(())
    }
}
