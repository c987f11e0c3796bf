//! Webhook subscriptions: on connect the host asks the plugin to `subscribe` (for
//! providers that can) with a callback URL under `TRIBUTARY_PUBLIC_URL`, records the
//! registration, renews it before it expires (Drive channels and Gmail watches lapse
//! within a week), retries failures with backoff, and unsubscribes on disconnect.

use std::sync::Arc;
use std::time::Duration;

use crate::crypto::{Keyring, Sealed};
use crate::db::{Integration as Row, SubscriptionRow, now_ms, subscription_state};
use crate::model::{Subscription, WebhookRouting};
use crate::runtime::{Integration, Runtime};

/// How often the renewal loop looks for due subscriptions.
const TICK: Duration = Duration::from_secs(30);
/// A claimed renewal is another replica's again after this long.
const CLAIM_MS: i64 = 5 * 60_000;
/// Never renew sooner than this after a success.
const MIN_RENEW_MS: i64 = 60_000;
/// Retries back off from 30 s to at most an hour.
const RETRY_BASE_MS: i64 = 30_000;
const RETRY_MAX_MS: i64 = 3_600_000;
/// Longest error message kept.
const MAX_TEXT: usize = 1_000;

/// Subscribes, renews and unsubscribes integrations' webhooks.
#[derive(Clone)]
pub struct Subscriptions {
    runtime: Runtime,
    public_url: String,
    keyring: Arc<Keyring>,
}

/// The sealing context of an integration's subscription secret: a sealed value copied to
/// another integration's row does not open.
fn secret_context(integration_id: &str) -> String {
    format!("subscription:{integration_id}:secret")
}

/// Open the subscription secret `sealed` of `integration_id`.
pub fn open_secret(
    keyring: &Keyring,
    integration_id: &str,
    sealed: &Sealed,
) -> anyhow::Result<String> {
    let bytes = keyring.open_sealed(&secret_context(integration_id), sealed)?;
    Ok(String::from_utf8(bytes)?)
}

/// The registration a row describes, as `unsubscribe` takes it.
fn registered(row: &SubscriptionRow) -> Option<Subscription> {
    row.subscription_id.as_ref().map(|id| Subscription {
        id: id.clone(),
        expires_at: row.expires_at,
        resource: row.resource.clone(),
    })
}

/// When to renew a registration that lapses at `expires_at`: with a quarter of its life
/// left (a week-long Drive channel renews after 5¼ days).
pub fn renew_at(now: i64, expires_at: Option<i64>) -> Option<i64> {
    expires_at.map(|e| now + ((e - now) * 3 / 4).max(MIN_RENEW_MS))
}

fn retry_at(now: i64, failures: i64) -> i64 {
    now + (RETRY_BASE_MS << failures.clamp(0, 10)).min(RETRY_MAX_MS)
}

fn bounded(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl Subscriptions {
    /// Subscriptions over `runtime`, with callbacks under `public_url`, sealing each
    /// subscription's secret with `keyring`.
    pub fn new(runtime: Runtime, public_url: &str, keyring: Arc<Keyring>) -> Subscriptions {
        Subscriptions {
            runtime,
            public_url: public_url.trim_end_matches('/').to_string(),
            keyring,
        }
    }

    /// The secret for `row`'s registration: the one it had (renewals keep it, so calls
    /// signed during the overlap of old and new registration verify), else a new random one.
    fn secret(
        &self,
        row: &Row,
        previous: Option<&SubscriptionRow>,
    ) -> anyhow::Result<(String, Sealed)> {
        if let Some(sealed) = previous.and_then(|p| p.secret.as_ref())
            && let Ok(secret) = open_secret(&self.keyring, &row.id, sealed)
        {
            return Ok((secret, sealed.clone()));
        }
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let sealed = self
            .keyring
            .seal(&secret_context(&row.id), secret.as_bytes())?;
        Ok((secret, sealed))
    }

    /// The callback URL of an integration: per-app providers share one address.
    pub fn callback_url(
        &self,
        routing: WebhookRouting,
        provider: &str,
        integration_id: &str,
    ) -> String {
        match routing {
            WebhookRouting::PerApp => {
                format!("{}/api/webhooks/integrations/{provider}", self.public_url)
            }
            _ => format!(
                "{}/api/webhooks/integrations/{provider}/{integration_id}",
                self.public_url
            ),
        }
    }

    /// Subscribe `row` when its provider can (`None` otherwise), or renew its
    /// registration: the outcome, ACTIVE or FAILED (retried later), is recorded; a
    /// replaced registration is removed at the provider. Errors are the database's only.
    pub async fn subscribe(&self, row: &Row) -> anyhow::Result<Option<SubscriptionRow>> {
        let Some(plugin) = self.runtime.get(&row.provider) else {
            return Ok(None);
        };
        if !plugin.manifest.capabilities.subscribe {
            return Ok(None);
        }
        let db = &self.runtime.services().db;
        let callback = self.callback_url(plugin.manifest.webhook, &row.provider, &row.id);
        let previous = db.subscription(&row.id).await?;
        let (secret, sealed) = self.secret(row, previous.as_ref())?;
        let now = now_ms();
        let integration = Integration::new(&row.id, row.config_pairs());
        let attempt = match self.runtime.session(&row.provider, Some(integration)).await {
            Ok(mut session) => {
                let made = session.subscribe(&callback, &secret).await;
                if let (Ok(new), Some(old)) = (&made, previous.as_ref().and_then(registered))
                    && old.id != new.id
                    && let Err(e) = session.unsubscribe(&old).await
                {
                    tracing::warn!(integration = %row.id, provider = %row.provider, error = %e,
                        "the replaced webhook registration was not removed; it lapses at its expiry");
                }
                made
            }
            Err(e) => Err(e),
        };
        let saved = match attempt {
            // The session validated the id (non-empty, bounded).
            Ok(s) => SubscriptionRow {
                integration_id: row.id.clone(),
                provider: row.provider.clone(),
                subscription_id: Some(s.id),
                callback_url: callback,
                expires_at: s.expires_at,
                state: subscription_state::ACTIVE.into(),
                last_error: None,
                failures: 0,
                renew_at: renew_at(now, s.expires_at),
                updated_at: now,
                resource: s.resource,
                secret: Some(sealed),
            },
            Err(e) => {
                let why = e.to_string();
                tracing::warn!(integration = %row.id, provider = %row.provider, error = %why, "webhook subscription failed");
                let failures = previous.as_ref().map_or(0, |p| p.failures) + 1;
                // The previous registration, if any, still serves until it lapses.
                SubscriptionRow {
                    integration_id: row.id.clone(),
                    provider: row.provider.clone(),
                    subscription_id: previous.as_ref().and_then(|p| p.subscription_id.clone()),
                    callback_url: callback,
                    expires_at: previous.as_ref().and_then(|p| p.expires_at),
                    state: subscription_state::FAILED.into(),
                    last_error: Some(bounded(why)),
                    failures,
                    renew_at: Some(retry_at(now, failures - 1)),
                    updated_at: now,
                    resource: previous.as_ref().and_then(|p| p.resource.clone()),
                    secret: Some(sealed),
                }
            }
        };
        db.save_subscription(&saved).await?;
        Ok(Some(saved))
    }

    /// Remove `integration_id`'s registration at the provider (best effort: one that
    /// cannot be removed lapses at its expiry, and calls to a disconnected integration
    /// get 404) and forget it.
    pub async fn unsubscribe(&self, row: &Row) -> anyhow::Result<()> {
        let db = &self.runtime.services().db;
        let Some(sub) = db.subscription(&row.id).await? else {
            return Ok(());
        };
        if let Some(registration) = registered(&sub) {
            let integration = Integration::new(&row.id, row.config_pairs());
            let removed = match self.runtime.session(&row.provider, Some(integration)).await {
                Ok(mut s) => s.unsubscribe(&registration).await,
                Err(e) => Err(e),
            };
            if let Err(e) = removed {
                tracing::warn!(integration = %row.id, provider = %row.provider, error = %e,
                    "webhook registration not removed at the provider; it lapses at its expiry");
            }
        }
        db.delete_subscription(&row.id).await
    }

    /// Renew (or retry) every subscription that is due; how many were attempted.
    pub async fn renew_due(&self) -> anyhow::Result<usize> {
        let db = &self.runtime.services().db;
        let due = db.claim_due_subscriptions(now_ms(), CLAIM_MS, 100).await?;
        for sub in &due {
            match db.integration_by_id(&sub.integration_id).await? {
                Some(row) if row.status != crate::db::status::DISCONNECTED => {
                    self.subscribe(&row).await?;
                }
                // Disconnected meanwhile: nothing to renew.
                _ => db.delete_subscription(&sub.integration_id).await?,
            }
        }
        Ok(due.len())
    }

    /// Renew due subscriptions every [`TICK`] until `stop` resolves.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.renew_due().await {
                tracing::error!(error = %e, "renewing webhook subscriptions failed");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_renewal_leaves_a_quarter_of_the_lifetime() {
        let week = 7 * 24 * 3_600_000;
        assert_eq!(renew_at(0, Some(week)), Some(week * 3 / 4));
        assert_eq!(renew_at(1_000, None), None);
        assert_eq!(
            renew_at(0, Some(10)),
            Some(MIN_RENEW_MS),
            "never a busy loop"
        );
        assert_eq!(retry_at(0, 0), 30_000);
        assert_eq!(retry_at(0, 3), 240_000);
        assert_eq!(retry_at(0, 50), RETRY_MAX_MS);
    }
}
