//! Running one job: claim it, check the integration, run it (a walk, see `walk.rs`, or
//! one resource, see `resource.rs`) and turn the result into the job's next state.

use std::sync::Arc;
use std::time::Duration;

use super::{Sink, Source};
use crate::db::{Integration as Row, SyncJob, job_status, now_ms, status};
use crate::model::PluginError;
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
    /// First retry delay of a sync job; doubles with every attempt (seed 004: 5 s).
    pub backoff_base: Duration,
    /// First retry delay of a resource job (seed 004: 2 s).
    pub resource_backoff_base: Duration,
    /// Consecutive failed jobs that put an integration in ERROR.
    pub error_threshold: i64,
    /// Wait when a provider rate-limits without saying for how long.
    pub default_rate_limit_wait: Duration,
    /// Shortest and longest rate-limit wait the engine accepts from a plugin.
    pub rate_limit_wait_bounds: (Duration, Duration),
    /// Rate-limit waits of one job that do not count as attempts; later ones do.
    pub max_rate_limit_refunds: i64,
    /// A walk gives its worker back after this long when other jobs wait...
    pub slice: Duration,
    /// ...or after this many pages.
    pub slice_pages: u32,
    /// A walk past this many pages is a runaway: it fails.
    pub max_walk_pages: i64,
    /// A walk running longer than this (from its first start) is a runaway: it fails.
    pub max_walk_time: Duration,
    /// Jobs running at once per provider and per owner, in this process.
    pub caps: crate::db::Caps,
}

impl EngineConfig {
    /// Defaults for `workers` workers, overridden by `TRIBUTARY_SYNC_*` variables:
    /// `SLICE_MS`, `SLICE_PAGES`, `MAX_PAGES`, `MAX_WALK_MS`, `MAX_PER_PROVIDER`,
    /// `MAX_PER_OWNER`, `LEASE_MS`.
    pub fn from_env(workers: usize) -> Self {
        let var = |name: &str| -> Option<i64> {
            std::env::var(format!("TRIBUTARY_SYNC_{name}"))
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .filter(|v: &i64| *v > 0)
        };
        let ms = |v: i64| Duration::from_millis(v as u64);
        let d = EngineConfig::default();
        // Leave room: one provider or one owner never holds every worker of a host.
        let workers = workers.max(1) as i64;
        EngineConfig {
            lease: var("LEASE_MS").map(ms).unwrap_or(d.lease),
            slice: var("SLICE_MS").map(ms).unwrap_or(d.slice),
            slice_pages: var("SLICE_PAGES")
                .map(|v| v as u32)
                .unwrap_or(d.slice_pages),
            max_walk_pages: var("MAX_PAGES").unwrap_or(d.max_walk_pages),
            max_walk_time: var("MAX_WALK_MS").map(ms).unwrap_or(d.max_walk_time),
            caps: crate::db::Caps {
                per_provider: var("MAX_PER_PROVIDER").unwrap_or((workers - 1).max(1)),
                per_owner: var("MAX_PER_OWNER").unwrap_or((workers / 2).max(1)),
            },
            ..d
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            worker: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(60),
            page_size: 100,
            backoff_base: Duration::from_secs(5),
            resource_backoff_base: Duration::from_secs(2),
            error_threshold: 3,
            default_rate_limit_wait: Duration::from_secs(60),
            rate_limit_wait_bounds: (Duration::from_secs(1), Duration::from_secs(3600)),
            max_rate_limit_refunds: 10,
            slice: Duration::from_secs(30),
            slice_pages: 500,
            max_walk_pages: 200_000,
            max_walk_time: Duration::from_secs(24 * 3600),
            caps: crate::db::Caps::default(),
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
    /// The walk's slice ended; it continues from its checkpoint when its turn comes.
    Yielded,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Delayed => "delayed",
            Outcome::Failed => "failed",
            Outcome::Dead => "dead",
            Outcome::Cancelled => "cancelled",
            Outcome::Lost => "lost",
            Outcome::Yielded => "yielded",
        }
    }
}

pub(super) enum Stop {
    Call(CallError),
    Lost,
    /// The slice ended and other jobs wait: back to the queue (checkpoint committed).
    Yield,
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

/// Runs sync jobs.
pub struct SyncEngine {
    pub(super) runtime: Runtime,
    pub(super) sink: Arc<dyn Sink>,
    pub(super) config: EngineConfig,
    stopping: std::sync::atomic::AtomicBool,
    pub(super) writes: super::fresh::WriteLocks,
}

pub(super) fn lease_ms(c: &EngineConfig) -> i64 {
    c.lease.as_millis() as i64
}

impl SyncEngine {
    /// An engine over `runtime` writing to `sink`.
    pub fn new(runtime: Runtime, sink: Arc<dyn Sink>, config: EngineConfig) -> Self {
        SyncEngine {
            runtime,
            sink,
            config,
            stopping: Default::default(),
            writes: Default::default(),
        }
    }

    /// Ask running walks to stop at their next page (they go back to the queue).
    pub fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// True once [`SyncEngine::stop`] was called.
    pub fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The runtime jobs run on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Claim and run one job; `None` when nothing is runnable now.
    pub async fn run_once(&self) -> anyhow::Result<Option<(String, Outcome)>> {
        self.claim_and_run(None).await
    }

    /// Claim one job and run it against `source` instead of the provider's plugin (a
    /// natively compiled provider, in the throughput benchmark).
    pub async fn run_once_with(
        &self,
        source: &mut dyn Source,
    ) -> anyhow::Result<Option<(String, Outcome)>> {
        self.claim_and_run(Some(source)).await
    }

    async fn claim_and_run(
        &self,
        source: Option<&mut dyn Source>,
    ) -> anyhow::Result<Option<(String, Outcome)>> {
        let db = &self.runtime.services().db;
        let Some(job) = db
            .claim_job_capped(
                &self.config.worker,
                lease_ms(&self.config),
                self.config.caps,
            )
            .await?
        else {
            return Ok(None);
        };
        let id = job.id.clone();
        let provider = job.provider.clone();
        let outcome = self.run(job, source).await?;
        crate::metrics::job_outcome(&provider, outcome.label());
        Ok(Some((id, outcome)))
    }

    async fn run(
        &self,
        mut job: SyncJob,
        source: Option<&mut dyn Source>,
    ) -> anyhow::Result<Outcome> {
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
        let mut session: Session;
        let source: &mut dyn Source = match source {
            Some(s) => s,
            None => {
                let integration = Integration::new(&row.id, row.config_pairs());
                match self.runtime.session(&row.provider, Some(integration)).await {
                    Ok(s) => {
                        session = s;
                        &mut session
                    }
                    Err(e) => return self.settle_failure(&row, &job, e).await,
                }
            }
        };
        let result = if job.is_resource() {
            self.resource(&row, &mut job, source).await.map(|()| None)
        } else {
            self.walk(&row, &mut job, source).await
        };
        match result {
            Ok(token) => {
                let current =
                    job.is_resource() || db.finish_sync(&row.id, token.as_deref(), started).await?;
                db.end_job(&job.id, job_status::COMPLETED, None).await?;
                if !current {
                    // The settings changed while this walk ran: walk the new scope now.
                    db.request_sync(&row.id, &row.provider, "full", "config")
                        .await?;
                }
                Ok(Outcome::Completed)
            }
            Err(Stop::Lost) => Ok(Outcome::Lost),
            Err(Stop::Yield) => {
                if db.yield_job(&job.id, &self.config.worker).await? {
                    Ok(Outcome::Yielded)
                } else {
                    Ok(Outcome::Lost)
                }
            }
            Err(Stop::Storage(e)) => match e.downcast_ref::<crate::index::Unavailable>() {
                Some(down) => self.wait_for_store(&job, down).await,
                None => {
                    self.retry_or_bury(&row, &job, &format!("storage failed: {e:#}"))
                        .await
                }
            },
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
                // The plugin's number is a hint: 0 would re-claim the job at once for ever,
                // a huge one would park it for decades.
                let (floor, ceiling) = self.config.rate_limit_wait_bounds;
                let wait = r
                    .retry_after_ms
                    .map(Duration::from_millis)
                    .unwrap_or(self.config.default_rate_limit_wait)
                    .clamp(floor, ceiling)
                    .as_millis() as i64;
                db.set_integration_status(&row.id, status::RATE_LIMITED, Some(&msg))
                    .await?;
                if job.rate_waits >= self.config.max_rate_limit_refunds {
                    // Refunds end: from now on a rate-limit wait is a failed attempt.
                    if job.attempts >= job.max_attempts {
                        return self.retry_or_bury(row, job, &msg).await;
                    }
                    db.delay_job(&job.id, now_ms() + wait, &msg, false).await?;
                } else {
                    db.delay_job(&job.id, now_ms() + wait, &msg, true).await?;
                }
                Ok(Outcome::Delayed)
            }
            CallError::Runaway { .. } => {
                // Everything committed stays; nothing is deleted (the walk did not complete).
                db.record_failure(&row.id, &msg, self.config.error_threshold)
                    .await?;
                db.end_job(&job.id, job_status::FAILED, Some(&msg)).await?;
                Ok(Outcome::Failed)
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

    /// The vector store is down or slow: nothing of this page was recorded, so the job
    /// waits (doubling from the backoff base up to five minutes, or the store's own hint)
    /// and the attempt is given back; an outage never buries jobs.
    async fn wait_for_store(
        &self,
        job: &SyncJob,
        down: &crate::index::Unavailable,
    ) -> anyhow::Result<Outcome> {
        let doubled =
            self.config.backoff_base.as_millis() as i64 * (1 << job.rate_waits.clamp(0, 16));
        let wait = down
            .retry_after
            .map_or(doubled, |d| d.as_millis() as i64)
            .clamp(1_000, 5 * 60_000);
        tracing::warn!(job = %job.id, wait_ms = wait, error = %down, "vector store unavailable; the job waits");
        let db = &self.runtime.services().db;
        db.delay_job(&job.id, now_ms() + wait, &down.to_string(), true)
            .await?;
        Ok(Outcome::Delayed)
    }

    async fn retry_or_bury(&self, row: &Row, job: &SyncJob, msg: &str) -> anyhow::Result<Outcome> {
        let db = &self.runtime.services().db;
        if job.attempts < job.max_attempts {
            let base = if job.is_resource() {
                self.config.resource_backoff_base
            } else {
                self.config.backoff_base
            };
            let backoff = base.as_millis() as i64 * (1 << (job.attempts - 1).clamp(0, 16));
            db.delay_job(&job.id, now_ms() + backoff, msg, false)
                .await?;
            return Ok(Outcome::Delayed);
        }
        db.end_job(&job.id, job_status::DEAD, Some(msg)).await?;
        db.record_failure(&row.id, msg, self.config.error_threshold)
            .await?;
        Ok(Outcome::Dead)
    }
}
