//! The webhook worker: routes recorded deliveries to integrations (the one the callback
//! URL named, or every integration of the account the plugin named) and fans each out
//! into jobs, marking it processed in the same transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::Intake;
use crate::db::{Backend, Db, Delivery, Integration, Target, status};

/// Deliveries routed per round.
const BATCH: i64 = 256;
/// How long a worker on SQLite lets deliveries gather after a part batch.
const GATHER: Duration = Duration::from_millis(20);
/// How often an idle worker looks anyway (deliveries recorded by other replicas).
const POLL: Duration = Duration::from_secs(1);
/// Processed deliveries are kept this long: a redelivery within it is a duplicate.
const RETENTION_MS: i64 = 7 * 24 * 3_600_000;

/// Routes and fans out recorded deliveries.
#[derive(Clone)]
pub struct Fanout {
    db: Db,
    wake: Arc<Notify>,
}

/// What a round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Deliveries turned into jobs.
    pub done: usize,
    /// Deliveries that matched no integration taking work.
    pub unmatched: usize,
    /// Deliveries whose fan-out failed on their own (set aside as FAILED).
    pub failed: usize,
}

impl Fanout {
    /// A worker over `db`, woken by `intake` when this process records deliveries.
    pub fn new(db: Db, intake: &Intake) -> Fanout {
        Fanout {
            db,
            wake: intake.notifier(),
        }
    }

    /// Route one batch of pending deliveries (one transaction for the batch).
    pub async fn run_once(&self) -> anyhow::Result<Round> {
        let mut round = Round::default();
        let mut batch = Vec::new();
        // Deliveries of one integration or account come in runs: route each once a batch.
        let mut routes: HashMap<(Option<String>, Option<String>, String), Vec<Target>> =
            HashMap::new();
        for d in self.db.pending_deliveries(BATCH).await? {
            let key = (
                d.integration_id.clone(),
                d.account_id.clone(),
                d.provider.clone(),
            );
            let targets = match routes.get(&key) {
                Some(t) => t.clone(),
                None => {
                    let t = self.targets(&d).await?;
                    routes.insert(key, t.clone());
                    t
                }
            };
            batch.push((d, targets));
        }
        if batch.is_empty() {
            return Ok(round);
        }
        let done = match self.db.fan_out(&batch).await {
            Ok(done) => done,
            // One bad delivery must not hold up the rest: one at a time, and what fails
            // alone is set aside as FAILED with its reason.
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %format!("{e:#}"), "webhook fan-out of a batch failed; one at a time");
                let mut done = Vec::with_capacity(batch.len());
                for item in &batch {
                    match self.db.fan_out(std::slice::from_ref(item)).await {
                        Ok(d) => done.extend(d),
                        Err(e) => {
                            let reason = format!("{e:#}");
                            tracing::error!(delivery = %item.0.id, error = %reason, "webhook delivery set aside");
                            self.db.fail_delivery(&item.0.id, &reason).await?;
                            round.failed += 1;
                            done.push(false);
                        }
                    }
                }
                done
            }
            Err(e) => {
                let reason = format!("{e:#}");
                tracing::error!(delivery = %batch[0].0.id, error = %reason, "webhook delivery set aside");
                self.db.fail_delivery(&batch[0].0.id, &reason).await?;
                round.failed += 1;
                vec![false]
            }
        };
        for ((d, targets), ok) in batch.iter().zip(done) {
            if !ok {
                continue; // another worker had it
            }
            if targets.is_empty() {
                round.unmatched += 1;
                crate::metrics::webhook(&d.provider, "unmatched");
                tracing::warn!(provider = %d.provider, account = ?d.account_id, delivery = %d.id,
                    "webhook delivery matched no integration that takes work");
            } else {
                round.done += 1;
            }
        }
        Ok(round)
    }

    /// Route until nothing is pending.
    pub async fn drain(&self) -> anyhow::Result<Round> {
        let mut total = Round::default();
        loop {
            let r = self.run_once().await?;
            if r == Round::default() {
                return Ok(total);
            }
            total.done += r.done;
            total.unmatched += r.unmatched;
            total.failed += r.failed;
        }
    }

    /// Run until `stop` resolves: route rounds while deliveries wait, then wait for a
    /// wake-up or the poll interval. Stopping and the hourly pruning are checked between
    /// rounds, so neither waits for a pause in the deliveries.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut last_prune = 0i64;
        loop {
            let next = match self.run_once().await {
                Ok(r) if r == Round::default() => None,
                // A full batch: more are waiting.
                Ok(r) if r.done + r.unmatched + r.failed >= BATCH as usize => Some(Duration::ZERO),
                // A part batch under steady load, on SQLite: let more gather, so the round's
                // fixed cost (a query, a transaction, the one writer's turn) is shared by
                // more. PostgreSQL takes writers side by side, and bursts of larger rounds
                // raised the intake's p99 there.
                Ok(_) if self.db.backend() == Backend::Sqlite => Some(GATHER),
                Ok(_) => Some(Duration::ZERO),
                Err(e) => {
                    tracing::error!(error = %e, "webhook fan-out failed; retrying");
                    None
                }
            };
            let now = crate::db::now_ms();
            if now - last_prune > 3_600_000 {
                last_prune = now;
                match self.db.prune_deliveries(now - RETENTION_MS).await {
                    Ok(n) if n > 0 => tracing::info!(n, "old webhook deliveries pruned"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "pruning webhook deliveries failed"),
                }
            }
            match next {
                // More are waiting: only a stop comes first.
                Some(pause) if pause.is_zero() => tokio::select! {
                    biased;
                    _ = &mut stop => return,
                    _ = tokio::task::yield_now() => {}
                },
                Some(pause) => tokio::select! {
                    _ = &mut stop => return,
                    _ = tokio::time::sleep(pause) => {}
                },
                None => tokio::select! {
                    _ = &mut stop => return,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                },
            }
        }
    }

    async fn targets(&self, d: &Delivery) -> anyhow::Result<Vec<Target>> {
        let rows = match (&d.integration_id, &d.account_id) {
            (Some(id), _) => self.db.integration_by_id(id).await?.into_iter().collect(),
            (None, Some(account)) => {
                self.db
                    .integrations_by_account(&d.provider, account)
                    .await?
            }
            (None, None) => Vec::new(),
        };
        Ok(rows
            .into_iter()
            .filter(|r| r.provider == d.provider && takes_work(r))
            .map(|r| Target {
                integration_id: r.id,
                provider: r.provider,
            })
            .collect())
    }
}

/// Paused, disconnected and token-expired integrations take no work from webhooks.
fn takes_work(row: &Integration) -> bool {
    !matches!(
        row.status.as_str(),
        status::PAUSED | status::DISCONNECTED | status::TOKEN_EXPIRED
    )
}
