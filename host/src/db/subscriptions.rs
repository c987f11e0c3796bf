//! Webhook subscriptions: what `subscribe` registered at the provider for an integration,
//! when it expires and when to renew it (or retry after a failure).

use serde::Serialize;
use sqlx::Row;

use super::{Db, now_ms};
use crate::crypto::Sealed;

/// Subscription states.
pub mod subscription_state {
    /// Registered at the provider.
    pub const ACTIVE: &str = "ACTIVE";
    /// The last attempt failed; retried at `renew_at`.
    pub const FAILED: &str = "FAILED";
}

/// One integration's webhook registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SubscriptionRow {
    /// The integration.
    pub integration_id: String,
    /// Its provider.
    pub provider: String,
    /// The provider's id for the registration (none until one succeeded).
    pub subscription_id: Option<String>,
    /// Where the provider calls.
    pub callback_url: String,
    /// When the provider lets it lapse (ms).
    pub expires_at: Option<i64>,
    /// ACTIVE or FAILED.
    pub state: String,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Failed attempts in a row.
    pub failures: i64,
    /// When to renew or retry (ms); none for a registration that never expires.
    pub renew_at: Option<i64>,
    /// Last change (ms).
    pub updated_at: i64,
    /// The provider's handle needed to remove it besides the id (Drive `resourceId`).
    pub resource: Option<String>,
    /// The secret handed to `subscribe` and back to `webhook`, sealed; never serialized.
    #[serde(skip)]
    pub secret: Option<Sealed>,
}

const COLUMNS: &str = "integration_id, provider, subscription_id, callback_url, expires_at, state, last_error, \
     failures, renew_at, updated_at, resource_handle, secret_key_id, secret_sealed";

fn subscription(r: &sqlx::any::AnyRow) -> SubscriptionRow {
    SubscriptionRow {
        integration_id: r.get(0),
        provider: r.get(1),
        subscription_id: r.get(2),
        callback_url: r.get(3),
        expires_at: r.get(4),
        state: r.get(5),
        last_error: r.get(6),
        failures: r.get(7),
        renew_at: r.get(8),
        updated_at: r.get(9),
        resource: r.get(10),
        secret: match (
            r.get::<Option<String>, _>(11),
            r.get::<Option<Vec<u8>>, _>(12),
        ) {
            (Some(key_id), Some(bytes)) => Some(Sealed { key_id, bytes }),
            _ => None,
        },
    }
}

impl Db {
    /// An integration's subscription.
    pub async fn subscription(
        &self,
        integration_id: &str,
    ) -> anyhow::Result<Option<SubscriptionRow>> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_subscriptions WHERE integration_id = $1");
        let row = sqlx::query(&sql)
            .bind(integration_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(subscription))
    }

    /// Insert or replace an integration's subscription.
    pub async fn save_subscription(&self, s: &SubscriptionRow) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO webhook_subscriptions (integration_id, provider, subscription_id, callback_url, expires_at, \
             state, last_error, failures, renew_at, updated_at, resource_handle, secret_key_id, secret_sealed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (integration_id) DO UPDATE SET provider = excluded.provider, \
             subscription_id = excluded.subscription_id, callback_url = excluded.callback_url, \
             expires_at = excluded.expires_at, state = excluded.state, last_error = excluded.last_error, \
             failures = excluded.failures, renew_at = excluded.renew_at, updated_at = excluded.updated_at, \
             resource_handle = excluded.resource_handle, secret_key_id = excluded.secret_key_id, \
             secret_sealed = excluded.secret_sealed",
        )
        .bind(&s.integration_id)
        .bind(&s.provider)
        .bind(&s.subscription_id)
        .bind(&s.callback_url)
        .bind(s.expires_at)
        .bind(&s.state)
        .bind(&s.last_error)
        .bind(s.failures)
        .bind(s.renew_at)
        .bind(now_ms())
        .bind(&s.resource)
        .bind(s.secret.as_ref().map(|x| x.key_id.clone()))
        .bind(s.secret.as_ref().map(|x| x.bytes.clone()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Subscriptions due for renewal (or a retry) at `now`, each claimed for `lease_ms`
    /// so that another replica does not renew it at the same time.
    pub async fn claim_due_subscriptions(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<SubscriptionRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_subscriptions WHERE renew_at IS NOT NULL AND renew_at <= $1 \
             ORDER BY renew_at LIMIT $2"
        );
        let due = sqlx::query(&sql)
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let mut claimed = Vec::new();
        for s in due.iter().map(subscription) {
            let won = sqlx::query(
                "UPDATE webhook_subscriptions SET renew_at = $1 WHERE integration_id = $2 AND renew_at = $3",
            )
            .bind(now + lease_ms)
            .bind(&s.integration_id)
            .bind(s.renew_at)
            .execute(self.pool())
            .await?
            .rows_affected()
                == 1;
            if won {
                claimed.push(s);
            }
        }
        Ok(claimed)
    }

    /// Forget an integration's subscription.
    pub async fn delete_subscription(&self, integration_id: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM webhook_subscriptions WHERE integration_id = $1")
            .bind(integration_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
