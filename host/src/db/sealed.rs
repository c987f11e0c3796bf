//! Rows holding sealed secrets: integration credentials (with a version for
//! compare-and-swap rotation), OAuth client secrets and single-use OAuth states.

use sqlx::Row;

use super::{Db, now_ms};
use crate::crypto::Sealed;

/// A credential row as stored (the secret still sealed).
#[derive(Debug, Clone)]
pub struct CredentialRow {
    /// `oauth2`, `api_key` or `basic`.
    pub kind: String,
    /// Sealed JSON of the secret parts.
    pub sealed: Sealed,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Access-token expiry, ms.
    pub expires_at: Option<i64>,
    /// Bumped on every write.
    pub version: i64,
}

/// A pending OAuth authorization.
#[derive(Debug, Clone)]
pub struct OauthState {
    /// Provider id.
    pub provider: String,
    /// `user` or `org`.
    pub owner_kind: String,
    /// Owner id.
    pub owner_id: String,
    /// User who started it.
    pub user_id: String,
    /// Sealed PKCE verifier.
    pub verifier: Sealed,
    /// Settings given when connecting, applied once connected.
    pub config: serde_json::Map<String, serde_json::Value>,
    /// `FULL_CONTENT` or `METADATA_ONLY`, applied once connected.
    pub storage_strategy: String,
    /// The scopes requested.
    pub scopes: Vec<String>,
    /// Expiry, ms.
    pub expires_at: i64,
}

impl Db {
    /// The credential of an integration.
    pub async fn credential(&self, integration_id: &str) -> anyhow::Result<Option<CredentialRow>> {
        let row = sqlx::query(
            "SELECT kind, key_id, sealed, scopes, expires_at, version FROM credentials WHERE integration_id = $1",
        )
        .bind(integration_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(CredentialRow {
                kind: r.get(0),
                sealed: Sealed {
                    key_id: r.get(1),
                    bytes: r.get(2),
                },
                scopes: serde_json::from_str(&r.get::<String, _>(3))?,
                expires_at: r.get(4),
                version: r.get(5),
            })
        })
        .transpose()
    }

    /// Write a credential. With `expected_version`, only when the stored row still has
    /// that version (returns false when another writer got there first).
    pub async fn put_credential(
        &self,
        integration_id: &str,
        row: &CredentialRow,
        expected_version: Option<i64>,
    ) -> anyhow::Result<bool> {
        let scopes = serde_json::to_string(&row.scopes)?;
        let done = match expected_version {
            None => {
                sqlx::query(
                    "INSERT INTO credentials (integration_id, kind, key_id, sealed, scopes, expires_at, version, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 1, $7) ON CONFLICT (integration_id) DO UPDATE SET kind = excluded.kind, \
                     key_id = excluded.key_id, sealed = excluded.sealed, scopes = excluded.scopes, \
                     expires_at = excluded.expires_at, version = credentials.version + 1, updated_at = excluded.updated_at",
                )
                .bind(integration_id)
                .bind(&row.kind)
                .bind(&row.sealed.key_id)
                .bind(row.sealed.bytes.clone())
                .bind(scopes)
                .bind(row.expires_at)
                .bind(now_ms())
                .execute(self.pool())
                .await?
            }
            Some(v) => {
                sqlx::query(
                    "UPDATE credentials SET key_id = $1, sealed = $2, scopes = $3, expires_at = $4, version = version + 1, \
                     updated_at = $5 WHERE integration_id = $6 AND version = $7",
                )
                .bind(&row.sealed.key_id)
                .bind(row.sealed.bytes.clone())
                .bind(scopes)
                .bind(row.expires_at)
                .bind(now_ms())
                .bind(integration_id)
                .bind(v)
                .execute(self.pool())
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    /// Forget an integration's credential (disconnect).
    pub async fn delete_credential(&self, integration_id: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM credentials WHERE integration_id = $1")
            .bind(integration_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every credential's integration id and sealed value (for key rotation).
    pub async fn all_credentials(&self) -> anyhow::Result<Vec<(String, CredentialRow)>> {
        let ids: Vec<String> = sqlx::query("SELECT integration_id FROM credentials")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut out = Vec::new();
        for id in ids {
            if let Some(row) = self.credential(&id).await? {
                out.push((id, row));
            }
        }
        Ok(out)
    }

    /// Save a provider's OAuth client (secret sealed).
    pub async fn put_oauth_client(
        &self,
        provider: &str,
        client_id: &str,
        secret: &Sealed,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO oauth_clients (provider, client_id, key_id, sealed_secret, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (provider) DO UPDATE SET client_id = excluded.client_id, key_id = excluded.key_id, \
             sealed_secret = excluded.sealed_secret, updated_at = excluded.updated_at",
        )
        .bind(provider)
        .bind(client_id)
        .bind(&secret.key_id)
        .bind(secret.bytes.clone())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A provider's OAuth client id and sealed secret.
    pub async fn oauth_client(&self, provider: &str) -> anyhow::Result<Option<(String, Sealed)>> {
        let row = sqlx::query(
            "SELECT client_id, key_id, sealed_secret FROM oauth_clients WHERE provider = $1",
        )
        .bind(provider)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| {
            (
                r.get(0),
                Sealed {
                    key_id: r.get(1),
                    bytes: r.get(2),
                },
            )
        }))
    }

    /// Every OAuth client (for key rotation).
    pub async fn all_oauth_clients(&self) -> anyhow::Result<Vec<(String, String, Sealed)>> {
        let rows =
            sqlx::query("SELECT provider, client_id, key_id, sealed_secret FROM oauth_clients")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    Sealed {
                        key_id: r.get(2),
                        bytes: r.get(3),
                    },
                )
            })
            .collect())
    }

    /// Record a pending authorization under the hash of its state.
    pub async fn insert_oauth_state(&self, state_hash: &str, s: &OauthState) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO oauth_states (state_hash, provider, owner_kind, owner_id, user_id, key_id, sealed_verifier, config, expires_at, \
             storage_strategy, scopes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(state_hash)
        .bind(&s.provider)
        .bind(&s.owner_kind)
        .bind(&s.owner_id)
        .bind(&s.user_id)
        .bind(&s.verifier.key_id)
        .bind(s.verifier.bytes.clone())
        .bind(serde_json::Value::Object(s.config.clone()).to_string())
        .bind(s.expires_at)
        .bind(&s.storage_strategy)
        .bind(serde_json::to_string(&s.scopes)?)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Consume a state: marks it used in one statement, so a replay finds nothing.
    pub async fn take_oauth_state(&self, state_hash: &str) -> anyhow::Result<Option<OauthState>> {
        let claimed = sqlx::query(
            "UPDATE oauth_states SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL",
        )
        .bind(now_ms())
        .bind(state_hash)
        .execute(self.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(None);
        }
        let r = sqlx::query(
            "SELECT provider, owner_kind, owner_id, user_id, key_id, sealed_verifier, expires_at, config, storage_strategy, scopes \
             FROM oauth_states WHERE state_hash = $1",
        )
        .bind(state_hash)
        .fetch_one(self.pool())
        .await?;
        Ok(Some(OauthState {
            provider: r.get(0),
            owner_kind: r.get(1),
            owner_id: r.get(2),
            user_id: r.get(3),
            verifier: Sealed {
                key_id: r.get(4),
                bytes: r.get(5),
            },
            expires_at: r.get(6),
            config: serde_json::from_str(&r.get::<String, _>(7))?,
            storage_strategy: r.get(8),
            scopes: serde_json::from_str(&r.get::<String, _>(9))?,
        }))
    }

    /// Re-seal one OAuth state's verifier (key rotation).
    pub async fn all_oauth_states(&self) -> anyhow::Result<Vec<(String, Sealed)>> {
        let rows = sqlx::query(
            "SELECT state_hash, key_id, sealed_verifier FROM oauth_states WHERE used_at IS NULL",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.get(0),
                    Sealed {
                        key_id: r.get(1),
                        bytes: r.get(2),
                    },
                )
            })
            .collect())
    }

    /// Replace a state's sealed verifier.
    pub async fn reseal_oauth_state(&self, state_hash: &str, s: &Sealed) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE oauth_states SET key_id = $1, sealed_verifier = $2 WHERE state_hash = $3",
        )
        .bind(&s.key_id)
        .bind(s.bytes.clone())
        .bind(state_hash)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
