//! The database credential store: secrets sealed with the key ring, refreshed before
//! expiry and on demand, rotated refresh tokens saved with a compare-and-swap so two
//! concurrent refreshes never lose the newer token. A refresh the provider refuses
//! marks the integration TOKEN_EXPIRED.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::credentials::{Credential, CredentialStore, Kind};
use crate::crypto::Keyring;
use crate::db::{CredentialRow, Db, now_ms, status};
use crate::model::PluginError;
use crate::oauth::{self, OauthError, TokenSet};
use crate::runtime::WeakRuntime;

/// Refresh this long before the access token expires.
const REFRESH_MARGIN_MS: i64 = 60_000;

/// The secret parts, sealed together.
#[derive(Serialize, Deserialize)]
struct Secret {
    access: String,
    #[serde(default)]
    refresh: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

fn context(integration_id: &str) -> String {
    format!("credential:{integration_id}")
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Oauth2 => "oauth2",
        Kind::ApiKey => "api_key",
        Kind::Basic => "basic",
    }
}

fn kind_of(s: &str) -> Kind {
    match s {
        "oauth2" => Kind::Oauth2,
        "basic" => Kind::Basic,
        _ => Kind::ApiKey,
    }
}

fn internal(e: impl std::fmt::Display) -> PluginError {
    tracing::error!(error = %e, "credential store failed");
    PluginError::Transient("the credential store is unavailable".into())
}

/// Credentials in the database, sealed.
pub struct Vault {
    db: Db,
    keyring: Arc<Keyring>,
    runtime: OnceLock<WeakRuntime>,
    /// One refresh at a time per integration in this process.
    locks: std::sync::Mutex<HashMap<String, Arc<Flight>>>,
}

impl Vault {
    /// A vault over `db` sealing with `keyring`.
    pub fn new(db: Db, keyring: Arc<Keyring>) -> Self {
        Vault {
            db,
            keyring,
            runtime: OnceLock::new(),
            locks: Default::default(),
        }
    }

    /// Give the vault the runtime (for manifests and settings) once it exists.
    pub fn attach(&self, runtime: WeakRuntime) {
        let _ = self.runtime.set(runtime);
    }

    /// Store a new credential for an integration (connect).
    pub async fn store(
        &self,
        integration_id: &str,
        kind: Kind,
        tokens: &TokenSet,
        username: Option<String>,
    ) -> anyhow::Result<()> {
        let secret = Secret {
            access: tokens.access.clone(),
            refresh: tokens.refresh.clone(),
            username,
        };
        let sealed = self
            .keyring
            .seal(&context(integration_id), &serde_json::to_vec(&secret)?)?;
        let row = CredentialRow {
            kind: kind_name(kind).into(),
            sealed,
            scopes: tokens.scopes.clone(),
            expires_at: tokens.expires_at,
            version: 0,
        };
        self.db.put_credential(integration_id, &row, None).await?;
        Ok(())
    }

    fn open(
        &self,
        integration_id: &str,
        row: &CredentialRow,
    ) -> anyhow::Result<(Credential, Secret)> {
        let plain = self
            .keyring
            .open_sealed(&context(integration_id), &row.sealed)?;
        let secret: Secret = serde_json::from_slice(&plain)?;
        let cred = Credential {
            kind: kind_of(&row.kind),
            secret: secret.access.clone(),
            username: secret.username.clone(),
            scopes: row.scopes.clone(),
            expires_at: row.expires_at,
        };
        Ok((cred, secret))
    }

    /// Re-seal every credential under the active key (after `Keyring::rotate`).
    pub async fn reseal_all(&self) -> anyhow::Result<usize> {
        let mut n = 0;
        for (id, row) in self.db.all_credentials().await? {
            let plain = self.keyring.open_sealed(&context(&id), &row.sealed)?;
            let sealed = self.keyring.seal(&context(&id), &plain)?;
            let next = CredentialRow {
                sealed,
                ..row.clone()
            };
            // A concurrent refresh already wrote under the active key: nothing to do.
            if self
                .db
                .put_credential(&id, &next, Some(row.version))
                .await?
            {
                n += 1;
            }
        }
        Ok(n)
    }

    fn flight(&self, integration_id: &str) -> Arc<Flight> {
        self.locks
            .lock()
            .expect("vault locks")
            .entry(integration_id.to_string())
            .or_default()
            .clone()
    }

    /// Refresh unless someone else did since the caller saw `seen_version` (in the
    /// database) or `seen_refreshes` (in this process).
    async fn refresh_now(
        &self,
        integration_id: &str,
        seen_version: Option<i64>,
        seen_refreshes: Option<u64>,
    ) -> Result<Credential, PluginError> {
        let flight = self.flight(integration_id);
        let _guard = flight.lock.lock().await;
        let row = self
            .db
            .credential(integration_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                PluginError::Unauthorized("the integration has no credentials".into())
            })?;
        let (cred, secret) = self.open(integration_id, &row).map_err(internal)?;
        // Someone refreshed while we waited: use theirs.
        let refreshed_here =
            seen_refreshes.is_some_and(|n| n != flight.done.load(Ordering::Acquire));
        if refreshed_here || seen_version.is_some_and(|v| v != row.version) {
            return Ok(cred);
        }
        if cred.kind != Kind::Oauth2 {
            return Ok(cred);
        }
        let Some(refresh_token) = secret.refresh.clone() else {
            return Err(PluginError::Unauthorized(
                "the token expired and the provider gave no refresh token".into(),
            ));
        };
        let integration = self
            .db
            .integration_by_id(integration_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("integration missing"))?;
        let runtime = self
            .runtime
            .get()
            .and_then(WeakRuntime::upgrade)
            .ok_or_else(|| internal("runtime not attached"))?;
        let plugin = runtime.get(&integration.provider).ok_or_else(|| {
            PluginError::Unauthorized(format!(
                "provider `{}` is not installed",
                integration.provider
            ))
        })?;
        let services = runtime.services();
        let creds = oauth::client_credentials(services, &self.keyring, &plugin.manifest)
            .await
            .map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        match oauth::refresh(
            services,
            &plugin.manifest,
            creds,
            &refresh_token,
            &row.scopes,
        )
        .await
        {
            Ok(tokens) => {
                let next = Secret {
                    access: tokens.access.clone(),
                    refresh: tokens.refresh.clone(),
                    username: None,
                };
                let sealed = self
                    .keyring
                    .seal(
                        &context(integration_id),
                        &serde_json::to_vec(&next).map_err(internal)?,
                    )
                    .map_err(internal)?;
                let new_row = CredentialRow {
                    kind: row.kind.clone(),
                    sealed,
                    scopes: tokens.scopes.clone(),
                    expires_at: tokens.expires_at,
                    version: row.version,
                };
                if !self
                    .db
                    .put_credential(integration_id, &new_row, Some(row.version))
                    .await
                    .map_err(internal)?
                {
                    // Another process refreshed first; its (newer) token is the one to keep.
                    let latest = self
                        .db
                        .credential(integration_id)
                        .await
                        .map_err(internal)?
                        .ok_or_else(|| internal("credential vanished"))?;
                    return self
                        .open(integration_id, &latest)
                        .map(|(c, _)| c)
                        .map_err(internal);
                }
                flight.done.fetch_add(1, Ordering::Release);
                if integration.status == status::TOKEN_EXPIRED {
                    let _ = self
                        .db
                        .set_integration_status(integration_id, status::ACTIVE, None)
                        .await;
                }
                Ok(Credential {
                    kind: Kind::Oauth2,
                    secret: tokens.access,
                    username: None,
                    scopes: tokens.scopes,
                    expires_at: tokens.expires_at,
                })
            }
            Err(OauthError::Refused(reason)) => {
                // Another process may have rotated the token we just presented.
                if let Ok(Some(latest)) = self.db.credential(integration_id).await
                    && latest.version != row.version
                {
                    return self
                        .open(integration_id, &latest)
                        .map(|(c, _)| c)
                        .map_err(internal);
                }
                let msg = format!("token refresh refused: {reason}");
                let _ = self
                    .db
                    .set_integration_status(integration_id, status::TOKEN_EXPIRED, Some(&msg))
                    .await;
                Err(PluginError::Unauthorized(msg))
            }
            Err(OauthError::Transient(e)) => Err(PluginError::Transient(e)),
            Err(OauthError::NotConfigured(e)) => Err(PluginError::InvalidConfig(e)),
        }
    }
}

/// The refreshes of one integration in this process: taken one at a time, and counted.
#[derive(Default)]
struct Flight {
    lock: tokio::sync::Mutex<()>,
    /// Refreshes this process completed.
    done: AtomicU64,
}

impl CredentialStore for Vault {
    fn current<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, PluginError>> {
        Box::pin(async move {
            let Some(row) = self.db.credential(integration_id).await.map_err(internal)? else {
                return Ok(None);
            };
            let expiring = row.kind == "oauth2"
                && row
                    .expires_at
                    .is_some_and(|t| t - REFRESH_MARGIN_MS <= now_ms());
            let (cred, secret) = self.open(integration_id, &row).map_err(internal)?;
            // Without a refresh token the current one is used until the provider says no.
            if expiring && secret.refresh.is_some() {
                return self
                    .refresh_now(integration_id, Some(row.version), None)
                    .await
                    .map(Some);
            }
            Ok(Some(cred))
        })
    }

    fn refresh<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, Result<Credential, PluginError>> {
        // Counted before the first await: a caller whose database read comes back after
        // another caller's whole refresh still joins that refresh instead of starting one.
        let seen_refreshes = self.flight(integration_id).done.load(Ordering::Acquire);
        Box::pin(async move {
            let seen = self
                .db
                .credential(integration_id)
                .await
                .map_err(internal)?
                .map(|r| r.version);
            self.refresh_now(integration_id, seen, Some(seen_refreshes))
                .await
        })
    }
}
