//! Integration routes, personal (`/api/integrations/…`) and organization
//! (`/api/organizations/{slug}/integrations/…`): each pair shares one implementation and
//! differs only in the owner `auth::scope` resolves.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::{Access, Caller, scope};
use super::{ApiError, AppState, PluginView};
use crate::db::{Integration, Owner, status};

/// Body of `PUT …/config`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// Provider settings (replaces the stored ones).
    pub config: Option<Map<String, Value>>,
    /// `FULL_CONTENT` or `METADATA_ONLY`.
    pub storage_strategy: Option<String>,
    /// `REALTIME`, `FIFTEEN_MIN`, `HOURLY`, `DAILY` or `MANUAL`.
    pub sync_frequency: Option<String>,
}

/// Body of `POST …/sync`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    /// `full` or `incremental` (default).
    pub mode: Option<String>,
}

const STRATEGIES: &[&str] = &["FULL_CONTENT", "METADATA_ONLY"];
const FREQUENCIES: &[&str] = &["REALTIME", "FIFTEEN_MIN", "HOURLY", "DAILY", "MANUAL"];

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

/// An integration as the API shows it (never any credential).
pub fn view(i: &Integration) -> Value {
    json!({
        "id": i.id, "provider": i.provider, "owner": {"kind": i.owner_kind, "id": i.owner_id},
        "status": i.status, "storage_strategy": i.storage_strategy, "sync_frequency": i.sync_frequency,
        "config": i.config, "account": {"id": i.account_id, "name": i.account_name},
        "last_sync_at": i.last_sync_at, "last_error": i.last_error, "connected_by": i.connected_by,
        "connected_at": i.connected_at, "updated_at": i.updated_at,
    })
}

pub(super) async fn find(
    state: &AppState,
    owner: &Owner,
    provider: &str,
) -> Result<Integration, ApiError> {
    state
        .db()
        .integration(owner, provider)
        .await?
        .filter(|i| i.status != status::DISCONNECTED)
        .ok_or_else(|| ApiError::NotFound(format!("`{provider}` is not connected")))
}

async fn available(
    state: AppState,
    caller: Caller,
    org: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let (owner, plan) = scope(&state, &caller.0, org.as_deref(), Access::Read).await?;
    let connected = state.db().integrations(&owner).await?;
    let mut out = Vec::new();
    for p in state.runtime.plugins() {
        if !state
            .db()
            .registry_entry(&p.manifest.id)
            .await?
            .offered_to(&plan)
        {
            continue;
        }
        let status = connected
            .iter()
            .find(|i| i.provider == p.manifest.id)
            .map(|i| i.status.clone());
        out.push(json!({ "provider": PluginView::new(&p), "connected": status.is_some(), "status": status }));
    }
    Ok(Json(json!({ "integrations": out })))
}

async fn connected(
    state: AppState,
    caller: Caller,
    org: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Read).await?;
    let list: Vec<Value> = state
        .db()
        .integrations(&owner)
        .await?
        .iter()
        .map(view)
        .collect();
    Ok(Json(json!({ "integrations": list })))
}

async fn details(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
) -> Result<Json<Value>, ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Read).await?;
    let i = find(&state, &owner, &provider).await?;
    let jobs = state.db().sync_jobs(Some(&i.id), 10).await?;
    let mut v = view(&i);
    // Live progress: the walk in flight (its counts and cursor move with every page
    // checkpoint) and how many webhook changes wait to be applied.
    let current = jobs
        .iter()
        .find(|j| !j.is_resource() && matches!(j.status.as_str(), "RUNNING" | "PENDING"));
    v["current_job"] = json!(current);
    v["pending_resource_jobs"] = json!(state.db().pending_resource_jobs(&i.id).await?);
    v["recent_jobs"] = json!(jobs);
    // The provider-side webhook registration: state, expiry, the last failure.
    v["subscription"] = json!(state.db().subscription(&i.id).await?);
    Ok(Json(v))
}

async fn configure(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
    body: SettingsBody,
) -> Result<Json<Value>, ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Write).await?;
    let i = find(&state, &owner, &provider).await?;
    let config = body.config.unwrap_or(i.config.clone());
    check_config(&state, &provider, &config)?;
    let strategy = body.storage_strategy.unwrap_or(i.storage_strategy.clone());
    check_strategy(&strategy)?;
    let frequency = body.sync_frequency.unwrap_or(i.sync_frequency.clone());
    if !FREQUENCIES.contains(&frequency.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "sync_frequency must be one of {FREQUENCIES:?}"
        )));
    }
    let changed = state
        .db()
        .update_integration_settings(&i.id, &config, &strategy, &frequency)
        .await?;
    if changed && !matches!(i.status.as_str(), status::PAUSED | status::DISCONNECTED) {
        // What is synced changed: walk it all now, not at the next tick.
        state
            .db()
            .request_sync(&i.id, &provider, "full", "config")
            .await?;
    }
    Ok(Json(view(&find(&state, &owner, &provider).await?)))
}

async fn sync(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
    body: SyncBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Write).await?;
    let i = find(&state, &owner, &provider).await?;
    if matches!(i.status.as_str(), status::PAUSED | status::TOKEN_EXPIRED) {
        return Err(ApiError::Conflict(format!(
            "`{provider}` is {}; resume or reconnect it first",
            i.status
        )));
    }
    let mode = body.mode.unwrap_or_else(|| "incremental".into());
    if !matches!(mode.as_str(), "full" | "incremental") {
        return Err(ApiError::BadRequest(
            "mode must be `full` or `incremental`".into(),
        ));
    }
    let (job, _) = state
        .db()
        .request_sync(&i.id, &provider, &mode, "manual")
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!(job))))
}

async fn set_paused(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
    pause: bool,
) -> Result<Json<Value>, ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Write).await?;
    let i = find(&state, &owner, &provider).await?;
    let paused = i.status == status::PAUSED;
    if pause == paused {
        return Err(ApiError::Conflict(format!("`{provider}` is {}", i.status)));
    }
    let next = if pause {
        status::PAUSED
    } else {
        status::ACTIVE
    };
    state.db().set_integration_status(&i.id, next, None).await?;
    Ok(Json(view(&find(&state, &owner, &provider).await?)))
}

/// Body of a disconnect.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DisconnectRequest {
    /// Also delete everything indexed from the integration.
    #[serde(default)]
    purge: bool,
}

async fn disconnect(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
    req: DisconnectRequest,
) -> Result<StatusCode, ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Write).await?;
    let i = if req.purge {
        // Purging is also how one removes the index of an integration disconnected earlier.
        state
            .db()
            .integration(&owner, &provider)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("`{provider}` was never connected")))?
    } else {
        find(&state, &owner, &provider).await?
    };
    // While the credential still exists: removing the registration is a provider call.
    state.subscriptions().unsubscribe(&i).await?;
    state.db().delete_credential(&i.id).await?;
    state.db().kv_purge(&i.id).await?;
    state
        .db()
        .set_integration_status(&i.id, status::DISCONNECTED, None)
        .await?;
    if req.purge {
        // Points first: a crash in between leaves records whose points are gone, which
        // `tributary index verify` reports and the records' deletion here finishes.
        state.ingest.store().purge(&i.id).await?;
        state.db().purge_synced(&i.id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

macro_rules! pair {
    ($personal:ident, $org:ident, $method:ident, $ppath:literal, $opath:literal, $desc:literal, |$state:ident, $caller:ident, $org_arg:ident, $provider:ident, $body:ident| $call:expr) => {
        #[doc = $desc]
        #[utoipa::path($method, path = $ppath, tag = "integrations",
            params(("provider" = String, Path, description = "Provider id")),
            responses((status = 200, description = $desc), (status = 401, description = "No or bad API key"), (status = 404, description = "Not connected")))]
        pub async fn $personal(
            State($state): State<AppState>,
            $caller: Caller,
            Path($provider): Path<String>,
            $body: super::Payload,
        ) -> Result<axum::response::Response, ApiError> {
            let $org_arg: Option<String> = None;
            use axum::response::IntoResponse;
            Ok($call.await?.into_response())
        }

        #[doc = $desc]
        #[utoipa::path($method, path = $opath, tag = "organizations",
            params(("slug" = String, Path, description = "Organization slug"), ("provider" = String, Path, description = "Provider id")),
            responses((status = 200, description = $desc), (status = 401, description = "No or bad API key"), (status = 403, description = "Members may only read"), (status = 404, description = "Not connected or not a member")))]
        pub async fn $org(
            State($state): State<AppState>,
            $caller: Caller,
            Path((slug, $provider)): Path<(String, String)>,
            $body: super::Payload,
        ) -> Result<axum::response::Response, ApiError> {
            let $org_arg = Some(slug);
            use axum::response::IntoResponse;
            Ok($call.await?.into_response())
        }
    };
}

pair!(
    get_details,
    org_get_details,
    get,
    "/api/integrations/{provider}",
    "/api/organizations/{slug}/integrations/{provider}",
    "Details of a connected integration, with recent jobs",
    |state, caller, org, provider, _body| details(state, caller, org, provider)
);
pair!(
    put_config,
    org_put_config,
    put,
    "/api/integrations/{provider}/config",
    "/api/organizations/{slug}/integrations/{provider}/config",
    "Change settings, storage strategy and sync frequency",
    |state, caller, org, provider, body| async {
        configure(state, caller, org, provider, optional_json(&body)?).await
    }
);
pair!(
    post_sync,
    org_post_sync,
    post,
    "/api/integrations/{provider}/sync",
    "/api/organizations/{slug}/integrations/{provider}/sync",
    "Queue a manual sync (ahead of scheduled ones)",
    |state, caller, org, provider, body| async {
        sync(state, caller, org, provider, optional_json(&body)?).await
    }
);
pair!(
    post_pause,
    org_post_pause,
    post,
    "/api/integrations/{provider}/pause",
    "/api/organizations/{slug}/integrations/{provider}/pause",
    "Pause automatic syncing",
    |state, caller, org, provider, _body| set_paused(state, caller, org, provider, true)
);
pair!(
    post_resume,
    org_post_resume,
    post,
    "/api/integrations/{provider}/resume",
    "/api/organizations/{slug}/integrations/{provider}/resume",
    "Resume automatic syncing",
    |state, caller, org, provider, _body| set_paused(state, caller, org, provider, false)
);
pair!(
    delete_integration,
    org_delete_integration,
    delete,
    "/api/integrations/{provider}",
    "/api/organizations/{slug}/integrations/{provider}",
    "Disconnect: credentials and plugin state are deleted; with `{\"purge\": true}` also everything indexed",
    |state, caller, org, provider, body| async {
        disconnect(state, caller, org, provider, optional_json(&body)?).await
    }
);

/// Providers available to the caller's plan, with connection status.
#[utoipa::path(get, path = "/api/integrations", tag = "integrations", responses((status = 200, description = "Available providers")))]
pub async fn list_available(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    available(state, caller, None).await
}

/// Providers available to the organization's plan.
#[utoipa::path(get, path = "/api/organizations/{slug}/integrations", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug")), responses((status = 200, description = "Available providers")))]
pub async fn org_list_available(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    available(state, caller, Some(slug)).await
}

/// The caller's connected integrations.
#[utoipa::path(get, path = "/api/integrations/connected", tag = "integrations", responses((status = 200, description = "Connected integrations")))]
pub async fn list_connected(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    connected(state, caller, None).await
}

/// The organization's connected integrations.
#[utoipa::path(get, path = "/api/organizations/{slug}/integrations/connected", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug")), responses((status = 200, description = "Connected integrations")))]
pub async fn org_list_connected(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    connected(state, caller, Some(slug)).await
}
