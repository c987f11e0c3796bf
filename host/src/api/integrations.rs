//! Integration routes, personal (`/api/integrations/…`) and organization
//! (`/api/organizations/{slug}/integrations/…`): each pair shares one implementation and
//! differs only in the owner `auth::scope` resolves.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::auth::{Access, Caller, scope};
use super::error::ErrorBody;
pub use super::integration_views::{
    Available, AvailableList, IntegrationDetails, IntegrationList, IntegrationView, view,
};
use super::settings::FREQUENCIES;
pub use super::settings::{check_config, check_strategy, optional_json};
use super::{ApiError, AppState, PluginView};
use crate::db::{Integration, Owner, SyncJob, status};

/// Body of `PUT …/config`.
#[derive(Debug, Deserialize, Default, ToSchema)]
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
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    /// `full` or `incremental` (default).
    pub mode: Option<String>,
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
) -> Result<Json<AvailableList>, ApiError> {
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
        out.push(Available {
            provider: PluginView::new(&p),
            connected: status.is_some(),
            status,
        });
    }
    Ok(Json(AvailableList { integrations: out }))
}

async fn connected(
    state: AppState,
    caller: Caller,
    org: Option<String>,
) -> Result<Json<IntegrationList>, ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Read).await?;
    Ok(Json(IntegrationList::of(
        &state.db().integrations(&owner).await?,
    )))
}

async fn details(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
) -> Result<Json<IntegrationDetails>, ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Read).await?;
    let i = find(&state, &owner, &provider).await?;
    let jobs = state.db().sync_jobs(Some(&i.id), 10).await?;
    // Live progress: the walk in flight (its counts and cursor move with every page
    // checkpoint) and how many webhook changes wait to be applied.
    let current = jobs
        .iter()
        .find(|j| !j.is_resource() && matches!(j.status.as_str(), "RUNNING" | "PENDING"))
        .cloned();
    Ok(Json(IntegrationDetails {
        integration: view(&i),
        current_job: current,
        pending_resource_jobs: state.db().pending_resource_jobs(&i.id).await?,
        subscription: state.db().subscription(&i.id).await?,
        recent_jobs: jobs,
    }))
}

async fn configure(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
    body: SettingsBody,
) -> Result<Json<IntegrationView>, ApiError> {
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
) -> Result<(StatusCode, Json<SyncJob>), ApiError> {
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
    Ok((StatusCode::ACCEPTED, Json(job)))
}

async fn set_paused(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
    pause: bool,
) -> Result<Json<IntegrationView>, ApiError> {
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
#[derive(Debug, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectRequest {
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
    ($personal:ident, $org:ident, $method:ident, $ppath:literal, $opath:literal, $desc:literal, $ok:tt, $(body: $req:ty,)? |$state:ident, $caller:ident, $org_arg:ident, $provider:ident, $body:ident| $call:expr) => {
        #[doc = $desc]
        #[utoipa::path($method, path = $ppath, tag = "integrations", $(request_body = Option<$req>,)?
            params(("provider" = String, Path, description = "Provider id")),
            responses($ok, (status = 400, body = ErrorBody, description = "A bad body"), (status = 401, body = ErrorBody, description = "Not signed in"),
                (status = 403, body = ErrorBody, description = "A cookie write without the CSRF token"),
                (status = 404, body = ErrorBody, description = "Not connected"), (status = 409, body = ErrorBody, description = "Not in a state that allows it")))]
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
        #[utoipa::path($method, path = $opath, tag = "organizations", $(request_body = Option<$req>,)?
            params(("slug" = String, Path, description = "Organization slug"), ("provider" = String, Path, description = "Provider id")),
            responses($ok, (status = 400, body = ErrorBody, description = "A bad body"), (status = 401, body = ErrorBody, description = "Not signed in"),
                (status = 403, body = ErrorBody, description = "Members may only read"),
                (status = 404, body = ErrorBody, description = "Not connected or not a member"), (status = 409, body = ErrorBody, description = "Not in a state that allows it")))]
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
    (
        status = 200,
        body = IntegrationDetails,
        description = "The integration"
    ),
    |state, caller, org, provider, _body| details(state, caller, org, provider)
);
pair!(
    put_config,
    org_put_config,
    put,
    "/api/integrations/{provider}/config",
    "/api/organizations/{slug}/integrations/{provider}/config",
    "Change settings, storage strategy and sync frequency",
    (status = 200, body = IntegrationView, description = "Saved"),
    body: SettingsBody,
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
    (status = 202, body = SyncJob, description = "The walk queued (or the one already queued or running)"),
    body: SyncBody,
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
    (status = 200, body = IntegrationView, description = "Paused"),
    |state, caller, org, provider, _body| set_paused(state, caller, org, provider, true)
);
pair!(
    post_resume,
    org_post_resume,
    post,
    "/api/integrations/{provider}/resume",
    "/api/organizations/{slug}/integrations/{provider}/resume",
    "Resume automatic syncing",
    (
        status = 200,
        body = IntegrationView,
        description = "Resumed"
    ),
    |state, caller, org, provider, _body| set_paused(state, caller, org, provider, false)
);
pair!(
    delete_integration,
    org_delete_integration,
    delete,
    "/api/integrations/{provider}",
    "/api/organizations/{slug}/integrations/{provider}",
    "Disconnect: credentials and plugin state are deleted; with `{\"purge\": true}` also everything indexed",
    (status = 204, description = "Disconnected"),
    body: DisconnectRequest,
    |state, caller, org, provider, body| async {
        disconnect(state, caller, org, provider, optional_json(&body)?).await
    }
);

/// Providers available to the caller's plan, with connection status.
#[utoipa::path(get, path = "/api/integrations", tag = "integrations",
    responses((status = 200, body = AvailableList), (status = 401, body = ErrorBody)))]
pub async fn list_available(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AvailableList>, ApiError> {
    available(state, caller, None).await
}

/// Providers available to the organization's plan.
#[utoipa::path(get, path = "/api/organizations/{slug}/integrations", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = AvailableList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn org_list_available(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<AvailableList>, ApiError> {
    available(state, caller, Some(slug)).await
}

/// The caller's connected integrations.
#[utoipa::path(get, path = "/api/integrations/connected", tag = "integrations",
    responses((status = 200, body = IntegrationList), (status = 401, body = ErrorBody)))]
pub async fn list_connected(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<IntegrationList>, ApiError> {
    connected(state, caller, None).await
}

/// The organization's connected integrations.
#[utoipa::path(get, path = "/api/organizations/{slug}/integrations/connected", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = IntegrationList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn org_list_connected(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> Result<Json<IntegrationList>, ApiError> {
    connected(state, caller, Some(slug)).await
}
