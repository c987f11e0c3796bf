//! `kv`: key/value storage scoped to the integration of the current call. The plugin
//! names only keys; the integration id comes from the host, so no key reaches another
//! integration's data.

use crate::bindings::latest::tributary::provider::kv::Host;
use crate::bindings::latest::tributary::provider::types::Error as WitError;
use crate::model::PluginError;
use crate::runtime::PluginState;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most keys one integration may hold.
pub const MAX_KEYS: i64 = 100_000;
/// Default of the bytes (keys + values) one integration may hold:
/// `TRIBUTARY_KV_QUOTA_BYTES` changes it.
pub const DEFAULT_QUOTA_BYTES: i64 = 64 << 20;
/// Most keys one `list-keys` call returns.
pub const MAX_LIST: i64 = 10_000;

fn check_key(key: &str) -> Result<(), PluginError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(PluginError::InvalidInput(format!(
            "kv keys must be 1..={MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

fn storage(e: anyhow::Error) -> PluginError {
    tracing::error!(error = %e, "kv storage failed");
    PluginError::Transient("kv storage is unavailable".into())
}

impl Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, WitError>> {
        let call = self.call.clone();
        Ok(async move {
            check_key(&key)?;
            let id = call.integration_id()?;
            call.services.db.kv_get(id, &key).await.map_err(storage)
        }
        .await
        .map_err(Into::into))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), WitError>> {
        let call = self.call.clone();
        Ok(async move {
            check_key(&key)?;
            if value.len() > MAX_VALUE_BYTES {
                return Err(PluginError::Forbidden(format!(
                    "kv values are limited to {MAX_VALUE_BYTES} bytes"
                )));
            }
            let id = call.integration_id()?;
            let db = &call.services.db;
            // Concurrent sets of one integration may pass the quota by a value each; the
            // quota bounds disk use, it is not an exact ledger.
            let (keys, bytes) = db.kv_usage(id, &key).await.map_err(storage)?;
            if keys >= MAX_KEYS {
                return Err(PluginError::Forbidden(format!(
                    "kv is limited to {MAX_KEYS} keys per integration"
                )));
            }
            let quota = call.services.quotas.kv_bytes;
            let after = bytes + (key.len() + value.len()) as i64;
            if after > quota {
                return Err(PluginError::Forbidden(format!(
                    "kv is limited to {quota} bytes per integration; this set would make {after}"
                )));
            }
            db.kv_set(id, &key, &value).await.map_err(storage)
        }
        .await
        .map_err(Into::into))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), WitError>> {
        let call = self.call.clone();
        Ok(async move {
            check_key(&key)?;
            let id = call.integration_id()?;
            call.services.db.kv_delete(id, &key).await.map_err(storage)
        }
        .await
        .map_err(Into::into))
    }

    async fn list_keys(
        &mut self,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<String>, WitError>> {
        let call = self.call.clone();
        Ok(async move {
            if prefix.len() > MAX_KEY_BYTES {
                return Err(PluginError::InvalidInput("prefix too long".into()));
            }
            let id = call.integration_id()?;
            call.services
                .db
                .kv_list(id, &prefix, MAX_LIST)
                .await
                .map_err(storage)
        }
        .await
        .map_err(Into::into))
    }
}
