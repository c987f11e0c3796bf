//! What settings a request may carry: the storage strategy's and frequency's names, a
//! provider's config checked against its manifest (no secrets, scalars only, bounded),
//! and optional JSON bodies.

use serde_json::{Map, Value};

use super::{ApiError, AppState};

/// Sync frequencies an integration may have.
pub const FREQUENCIES: &[&str] = &["REALTIME", "FIFTEEN_MIN", "HOURLY", "DAILY", "MANUAL"];
const STRATEGIES: &[&str] = &["FULL_CONTENT", "METADATA_ONLY"];

/// Parse an optional JSON body: empty is the default, anything else must parse.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Check a storage strategy's name.
pub fn check_strategy(strategy: &str) -> Result<(), ApiError> {
    if !STRATEGIES.contains(&strategy) {
        return Err(ApiError::BadRequest(format!(
            "storage_strategy must be one of {STRATEGIES:?}"
        )));
    }
    Ok(())
}

/// Check config keys and values against the manifest's fields.
pub fn check_config(
    state: &AppState,
    provider: &str,
    config: &Map<String, Value>,
) -> Result<(), ApiError> {
    let plugin = state
        .runtime
        .get(provider)
        .ok_or_else(|| ApiError::NotFound(format!("no provider `{provider}`")))?;
    for (k, v) in config {
        let field = plugin
            .manifest
            .config
            .iter()
            .find(|f| &f.key == k)
            .ok_or_else(|| ApiError::BadRequest(format!("`{provider}` has no setting `{k}`")))?;
        if matches!(field.kind, crate::model::FieldKind::Secret) {
            return Err(ApiError::BadRequest(format!(
                "`{k}` is a secret: send it as a credential when connecting"
            )));
        }
        if !(v.is_string() || v.is_number() || v.is_boolean()) {
            return Err(ApiError::BadRequest(format!(
                "setting `{k}` must be a string, number or boolean"
            )));
        }
        if v.as_str().is_some_and(|s| s.len() > 4096) {
            return Err(ApiError::BadRequest(format!(
                "setting `{k}` is longer than 4096 bytes"
            )));
        }
    }
    Ok(())
}
