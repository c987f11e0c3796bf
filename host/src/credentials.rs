//! The credential store interface the `http` and `tokens` capabilities ask, and an
//! in-memory implementation. The encrypted database store implements the same trait.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use futures::future::BoxFuture;

use crate::model::PluginError;

/// Kind of credential, as the WIT names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// OAuth 2.0 access token.
    Oauth2,
    /// An API key.
    ApiKey,
    /// User name and password.
    Basic,
}

/// A credential. `Debug` never prints the secret.
#[derive(Clone)]
pub struct Credential {
    /// Kind of credential.
    pub kind: Kind,
    /// Access token or API key; for `Basic`, the password.
    pub secret: String,
    /// For `Basic`: the user name.
    pub username: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Expiry, ms since the epoch.
    pub expires_at: Option<i64>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .field("secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Where the host finds an integration's credentials.
pub trait CredentialStore: Send + Sync {
    /// The integration's current credential, if it has one.
    fn current<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, PluginError>>;
    /// Refresh the integration's credential now and return the new one.
    fn refresh<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, Result<Credential, PluginError>>;
}

/// Credentials held in memory (tests, API-key integrations configured at start-up).
#[derive(Default)]
pub struct MemoryCredentials {
    map: RwLock<HashMap<String, Credential>>,
}

impl MemoryCredentials {
    /// Set the credential of an integration.
    pub fn set(&self, integration_id: &str, credential: Credential) {
        self.map
            .write()
            .expect("credential lock")
            .insert(integration_id.to_string(), credential);
    }
}

impl CredentialStore for MemoryCredentials {
    fn current<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, PluginError>> {
        let found = self
            .map
            .read()
            .expect("credential lock")
            .get(integration_id)
            .cloned();
        Box::pin(async move { Ok(found) })
    }

    fn refresh<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, Result<Credential, PluginError>> {
        let found = self
            .map
            .read()
            .expect("credential lock")
            .get(integration_id)
            .cloned();
        Box::pin(async move {
            match found {
                Some(c) if c.kind != Kind::Oauth2 => Ok(c),
                Some(_) => Err(PluginError::Unauthorized(
                    "this credential cannot be refreshed".into(),
                )),
                None => Err(PluginError::Unauthorized(
                    "the integration has no credentials".into(),
                )),
            }
        })
    }
}
