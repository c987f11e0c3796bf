//! Webhook intake: verified deliveries are written to the delivery log in group commits
//! (one transaction for everything that arrived while the previous one was committing),
//! and the provider gets its 2xx only once its delivery is durable. Routing and fan-out
//! into jobs happen later in [`Fanout`], so an answer never waits on them.
//! [`Subscriptions`] registers, renews and removes the webhooks at the providers;
//! [`Warm`] keeps verifying instances between deliveries.

mod fanout;
mod subscriptions;
mod warm;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot};

pub use fanout::{Fanout, Round};
pub use subscriptions::{Subscriptions, open_secret, renew_at};
pub use warm::Warm;

use crate::db::{Db, Integration, NewDelivery};

/// How long a looked-up integration or registry entry serves the request path (replicas
/// and admin changes made elsewhere are followed within it).
const LOOKUP_TTL: Duration = Duration::from_secs(1);
/// Entries kept before the lookup caches start over (anyone can send any id).
const LOOKUP_MAX: usize = 10_000;

/// A small TTL map for the request path.
struct Lookups<T>(Mutex<HashMap<String, (Instant, T)>>);

impl<T: Clone> Lookups<T> {
    fn new() -> Self {
        Lookups(Mutex::new(HashMap::new()))
    }

    fn get(&self, key: &str) -> Option<T> {
        let map = self.0.lock().expect("lookup cache");
        map.get(key)
            .filter(|(at, _)| at.elapsed() < LOOKUP_TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: &str, value: T) {
        let mut map = self.0.lock().expect("lookup cache");
        if map.len() >= LOOKUP_MAX {
            map.clear();
        }
        map.insert(key.to_string(), (Instant::now(), value));
    }

    fn forget(&self, key: &str) {
        self.0.lock().expect("lookup cache").remove(key);
    }
}

/// Most deliveries written by one commit.
pub(crate) const MAX_BATCH: usize = 1024;
/// Deliveries waiting for a commit before callers wait for room (back-pressure).
const QUEUE: usize = 16 * 1024;

/// What became of a delivery handed to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Durable and waiting for fan-out.
    New,
    /// Its delivery id was recorded before: acknowledged without new work.
    Duplicate,
}

type Reply = oneshot::Sender<Result<bool, String>>;

/// The delivery log's writer: one task commits batches; callers await their batch.
pub struct Intake {
    tx: mpsc::Sender<(NewDelivery, Reply)>,
    recorded: Arc<Notify>,
    db: Db,
    integrations: Lookups<Option<Integration>>,
    enabled: Lookups<bool>,
    /// Sealed subscription secrets by integration (renewals keep the secret, so a second
    /// of staleness never refuses a genuine call).
    secrets: Lookups<Option<crate::crypto::Sealed>>,
    warm: Warm,
}

impl Intake {
    /// Start the committer on the current tokio runtime.
    pub fn start(db: Db) -> Arc<Intake> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let recorded = Arc::new(Notify::new());
        tokio::spawn(commit_loop(db.clone(), rx, recorded.clone()));
        let intake = Arc::new(Intake {
            tx,
            recorded,
            db,
            integrations: Lookups::new(),
            enabled: Lookups::new(),
            secrets: Lookups::new(),
            warm: Warm::default(),
        });
        let weak = Arc::downgrade(&intake);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(warm::MAX_IDLE).await;
                match weak.upgrade() {
                    Some(intake) => intake.warm.sweep(warm::MAX_IDLE),
                    None => return,
                }
            }
        });
        intake
    }

    /// The warm plugin instances that verify deliveries.
    pub fn warm(&self) -> &Warm {
        &self.warm
    }

    /// The integration `id` as the request path sees it (read at most once a second).
    pub async fn integration(&self, id: &str) -> anyhow::Result<Option<Integration>> {
        if let Some(row) = self.integrations.get(id) {
            return Ok(row);
        }
        let row = self.db.integration_by_id(id).await?;
        self.integrations.put(id, row.clone());
        Ok(row)
    }

    /// Whether the admin offers `provider` (read at most once a second).
    pub async fn provider_enabled(&self, provider: &str) -> anyhow::Result<bool> {
        if let Some(on) = self.enabled.get(provider) {
            return Ok(on);
        }
        let on = self.db.registry_entry(provider).await?.enabled;
        self.enabled.put(provider, on);
        Ok(on)
    }

    /// The sealed subscription secret of `integration_id` (read at most once a second).
    pub async fn subscription_secret(
        &self,
        integration_id: &str,
    ) -> anyhow::Result<Option<crate::crypto::Sealed>> {
        if let Some(s) = self.secrets.get(integration_id) {
            return Ok(s);
        }
        let sealed = self
            .db
            .subscription(integration_id)
            .await?
            .and_then(|s| s.secret);
        self.secrets.put(integration_id, sealed.clone());
        Ok(sealed)
    }

    /// Drop what this process remembers of `provider`'s registry entry (after a change).
    pub fn forget_provider(&self, provider: &str) {
        self.enabled.forget(provider);
    }

    /// Record a delivery; returns once it is committed (or known as a duplicate).
    pub async fn record(&self, delivery: NewDelivery) -> anyhow::Result<Recorded> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((delivery, reply))
            .await
            .map_err(|_| anyhow::anyhow!("the delivery log is closed"))?;
        match answer.await {
            Ok(Ok(true)) => Ok(Recorded::New),
            Ok(Ok(false)) => Ok(Recorded::Duplicate),
            Ok(Err(e)) => Err(anyhow::anyhow!("recording the delivery failed: {e}")),
            Err(_) => Err(anyhow::anyhow!("the delivery log stopped")),
        }
    }

    /// Resolves when this process recorded new deliveries since the last wake-up.
    pub async fn recorded(&self) {
        self.recorded.notified().await;
    }

    /// The notifier [`Fanout`] waits on.
    pub(crate) fn notifier(&self) -> Arc<Notify> {
        self.recorded.clone()
    }
}

async fn commit_loop(db: Db, mut rx: mpsc::Receiver<(NewDelivery, Reply)>, recorded: Arc<Notify>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (deliveries, replies): (Vec<_>, Vec<_>) =
            std::mem::take(&mut batch).into_iter().unzip();
        let started = std::time::Instant::now();
        match db.record_deliveries(&deliveries).await {
            Ok(fresh) => {
                crate::metrics::delivery_batch(deliveries.len(), started.elapsed());
                if fresh.iter().any(|f| *f) {
                    recorded.notify_one();
                }
                for (reply, new) in replies.into_iter().zip(fresh) {
                    let _ = reply.send(Ok(new));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, n = deliveries.len(), "webhook deliveries not recorded");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// The provider's id for a delivery, from the headers the providers document for it
/// (GitHub `X-GitHub-Delivery`, GitLab `X-Gitlab-Event-UUID`, Standard Webhooks
/// `webhook-id`, Google channels `X-Goog-Channel-ID` + `X-Goog-Message-Number`). Ids
/// carried in bodies (Slack `event_id`, Pub/Sub `messageId`) are the plugin's to name.
pub fn delivery_id_from_headers(headers: &[(String, String)]) -> Option<String> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    if let (Some(channel), Some(n)) = (get("x-goog-channel-id"), get("x-goog-message-number")) {
        return Some(format!("{channel}:{n}"));
    }
    ["x-github-delivery", "x-gitlab-event-uuid", "webhook-id"]
        .iter()
        .find_map(|h| get(h))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn works_when_delivery_ids_come_from_documented_headers() {
        assert_eq!(
            delivery_id_from_headers(&h(&[(
                "X-GitHub-Delivery",
                "72d3162e-cc78-11e3-81ab-4c9367dc0958"
            )])),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958".into())
        );
        assert_eq!(
            delivery_id_from_headers(&h(&[
                ("X-Goog-Channel-ID", "ch-1"),
                ("X-Goog-Message-Number", "7")
            ])),
            Some("ch-1:7".into())
        );
        assert_eq!(
            delivery_id_from_headers(&h(&[("webhook-id", "msg_1")])),
            Some("msg_1".into())
        );
        assert_eq!(
            delivery_id_from_headers(&h(&[("x-github-delivery", " ")])),
            None
        );
        assert_eq!(delivery_id_from_headers(&h(&[("content-type", "x")])), None);
    }
}
