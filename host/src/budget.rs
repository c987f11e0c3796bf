//! A provider's request budget: the manifest's requests per minute (and per day) and
//! concurrent requests. The rate is a GCRA (governor) on every host; with PostgreSQL it
//! is also one GCRA row in the database that every host process reserves from, so N
//! replicas together stay within the declared rate. Bursts are one second's worth of the
//! per-minute rate (one minute's of the per-day rate): in any window of `w` seconds a
//! provider sees at most `burst + w · rate`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use sqlx::Row;

use crate::db::{Backend, Db};
use crate::model::{PluginError, RateLimit};

/// Longest a request waits for the provider's budget before the plugin is told it is
/// rate-limited (so the job is delayed instead of holding an instance).
pub const MAX_BUDGET_WAIT: Duration = Duration::from_secs(10);

/// One rate: requests per `period`, with bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rate {
    interval_us: i64,
    burst: u32,
}

impl Rate {
    fn new(count: u32, period: Duration, burst_share: u32) -> Rate {
        let count = count.max(1);
        Rate {
            interval_us: (period.as_micros() as i64 / count as i64).max(1),
            burst: count.div_ceil(burst_share).max(1),
        }
    }

    fn local(&self) -> governor::DefaultDirectRateLimiter {
        let quota = governor::Quota::with_period(Duration::from_micros(self.interval_us as u64))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(self.burst).expect("at least one"));
        governor::RateLimiter::direct(quota)
    }
}

/// The budget of one provider on this host.
pub struct ProviderGate {
    provider: String,
    limits: (u32, Option<u32>, u32),
    rates: Vec<(String, Rate, governor::DefaultDirectRateLimiter)>,
    concurrency: Arc<tokio::sync::Semaphore>,
    shared: Option<Db>,
}

fn limited(wait: Duration, message: &str) -> PluginError {
    PluginError::RateLimited(RateLimit {
        retry_after_ms: Some(wait.as_millis().max(1) as u64),
        message: message.into(),
    })
}

impl ProviderGate {
    /// The budget for `limits` = (per minute, per day, concurrency); shared through `db`
    /// when it is PostgreSQL (SQLite means one process).
    pub fn new(provider: &str, limits: (u32, Option<u32>, u32), db: &Db) -> Self {
        let mut rates = vec![(
            format!("{provider}:minute"),
            Rate::new(limits.0, Duration::from_secs(60), 60),
        )];
        if let Some(day) = limits.1 {
            rates.push((
                format!("{provider}:day"),
                Rate::new(day, Duration::from_secs(86_400), 1_440),
            ));
        }
        ProviderGate {
            provider: provider.to_string(),
            limits,
            rates: rates
                .into_iter()
                .map(|(bucket, rate)| (bucket, rate, rate.local()))
                .collect(),
            concurrency: Arc::new(tokio::sync::Semaphore::new(limits.2.max(1) as usize)),
            shared: (db.backend() == Backend::Postgres).then(|| db.clone()),
        }
    }

    /// The limits this gate enforces.
    pub fn limits(&self) -> (u32, Option<u32>, u32) {
        self.limits
    }

    /// Wait for a slot within the budget; a typed rate-limit error when the wait would
    /// be longer than `max_wait` (bounded by [`MAX_BUDGET_WAIT`]).
    pub async fn admit(
        &self,
        max_wait: Duration,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, PluginError> {
        let max_wait = max_wait.min(MAX_BUDGET_WAIT);
        for (bucket, rate, local) in &self.rates {
            loop {
                match local.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(DefaultClock::default().now());
                        if wait > max_wait {
                            return Err(limited(
                                wait,
                                "the provider's request budget on this host is used up",
                            ));
                        }
                        tokio::time::sleep(wait).await;
                    }
                }
            }
            if let Some(db) = &self.shared {
                match reserve(db, bucket, *rate, max_wait).await {
                    Ok(Ok(wait)) => tokio::time::sleep(wait).await,
                    Ok(Err(retry)) => {
                        return Err(limited(
                            retry,
                            "the provider's request budget across hosts is used up",
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(provider = %self.provider, error = %e, "shared rate budget unavailable");
                        return Err(PluginError::Transient(
                            "the shared request budget is unavailable".into(),
                        ));
                    }
                }
            }
        }
        self.concurrency
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PluginError::Transient("shutting down".into()))
    }
}

/// Reserve the next slot of `bucket` in the database (GCRA on the database's clock, so
/// hosts' clocks do not matter): `Ok(wait)` until the slot, or `Err(retry_after)` when
/// the slot is further away than `max_wait` (nothing reserved then).
async fn reserve(
    db: &Db,
    bucket: &str,
    rate: Rate,
    max_wait: Duration,
) -> anyhow::Result<Result<Duration, Duration>> {
    // tat = max(tat, now) + T; the request conforms at tat - burst·T.
    let row = sqlx::query(
        "WITH c AS (SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT AS now) \
         INSERT INTO rate_budgets AS b (bucket, tat_us) SELECT $1, c.now + $2 FROM c \
         ON CONFLICT (bucket) DO UPDATE SET tat_us = GREATEST(b.tat_us, excluded.tat_us - $2) + $2 \
         WHERE GREATEST(b.tat_us, excluded.tat_us - $2) + $2 - $3 - (excluded.tat_us - $2) <= $4 \
         RETURNING b.tat_us - (SELECT now FROM c)",
    )
    .bind(bucket)
    .bind(rate.interval_us)
    .bind(rate.interval_us * rate.burst as i64)
    .bind(max_wait.as_micros() as i64)
    .fetch_optional(db.pool())
    .await?;
    if let Some(r) = row {
        let ahead: i64 = r.get(0);
        let wait = ahead - rate.interval_us * rate.burst as i64;
        return Ok(Ok(Duration::from_micros(wait.max(0) as u64)));
    }
    let row = sqlx::query(
        "SELECT tat_us - (EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::BIGINT FROM rate_budgets WHERE bucket = $1",
    )
    .bind(bucket)
    .fetch_one(db.pool())
    .await?;
    let ahead: i64 = row.get(0);
    let retry = ahead + rate.interval_us - rate.interval_us * rate.burst as i64;
    Ok(Err(Duration::from_micros(retry.max(1) as u64)))
}
