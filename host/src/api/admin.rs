//! Admin endpoints (platform admins only): the integration registry, sync jobs, stats,
//! and each provider's OAuth client (the secret is sealed and never shown again).

use axum::Json;

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::Admin;
use super::{ApiError, AppState, Payload, PluginView};
use crate::db::RegistryEntry;

/// Body of `PUT /api/admin/integrations/registry/{provider}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryBody {
    enabled: Option<bool>,
    allowed_plans: Option<Vec<String>>,
    default_config: Option<Map<String, Value>>,
    /// Declared actions users may run (creating a Gmail draft); none by default.
    enabled_actions: Option<Vec<String>>,
}

/// Body of `PUT /api/admin/providers/{provider}/oauth`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OauthClientBody {
    client_id: String,
    client_secret: String,
}

/// Query of the job list.
#[derive(Debug, Deserialize)]
pub struct JobsQuery {
    limit: Option<i64>,
    integration_id: Option<String>,
    /// Only jobs in this status (`DEAD` lists the dead letters).
    status: Option<String>,
}

/// Every installed provider with its registry entry.
#[utoipa::path(get, path = "/api/admin/integrations/registry", tag = "admin", responses((status = 200, description = "Registry")))]
pub async fn get_registry(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Value>, ApiError> {
    let mut out = Vec::new();
    for p in state.runtime.plugins() {
        let entry = state.db().registry_entry(&p.manifest.id).await?;
        out.push(json!({ "registry": entry, "plugin": PluginView::new(&p) }));
    }
    Ok(Json(json!({ "providers": out })))
}

/// Enable/disable a provider, restrict it to plans, set its default config, enable its
/// actions (a newly enabled action's scopes are asked for at the next connection).
#[utoipa::path(put, path = "/api/admin/integrations/registry/{provider}", tag = "admin",
    params(("provider" = String, Path, description = "Provider id")), responses((status = 200, description = "Updated entry")))]
pub async fn put_registry(
    State(state): State<AppState>,
    _admin: Admin,
    Path(provider): Path<String>,
    body: Payload,
) -> Result<Json<RegistryEntry>, ApiError> {
    crate::runtime::validate::provider_id(&provider).map_err(ApiError::BadRequest)?;
    let body: RegistryBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    let mut entry = state.db().registry_entry(&provider).await?;
    if let Some(e) = body.enabled {
        entry.enabled = e;
    }
    if let Some(p) = body.allowed_plans {
        if p.iter().any(|p| p.is_empty() || p.len() > 64) {
            return Err(ApiError::BadRequest(
                "plan names are 1..=64 characters".into(),
            ));
        }
        entry.allowed_plans = p;
    }
    if let Some(c) = body.default_config {
        if state.runtime.get(&provider).is_some() {
            super::integrations::check_config(&state, &provider, &c)?;
        }
        entry.default_config = c;
    }
    if let Some(actions) = body.enabled_actions {
        let plugin = state.runtime.get(&provider).ok_or_else(|| {
            ApiError::NotFound(format!(
                "`{provider}` is not installed: its actions are unknown"
            ))
        })?;
        if let Some(bad) = actions
            .iter()
            .find(|a| !plugin.manifest.actions.iter().any(|d| &d.name == *a))
        {
            return Err(ApiError::BadRequest(format!(
                "`{provider}` declares no action `{bad}`"
            )));
        }
        entry.enabled_actions = actions;
    }
    state.db().put_registry_entry(&entry).await?;
    state.webhooks.forget_provider(&provider);
    Ok(Json(entry))
}

/// Recent sync jobs.
#[utoipa::path(get, path = "/api/admin/integrations/sync-jobs", tag = "admin", responses((status = 200, description = "Jobs, newest first")))]
pub async fn get_sync_jobs(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let jobs = state
        .db()
        .sync_jobs_where(q.integration_id.as_deref(), q.status.as_deref(), limit)
        .await?;
    Ok(Json(json!({ "jobs": jobs })))
}

/// One sync job.
#[utoipa::path(get, path = "/api/admin/integrations/sync-jobs/{job_id}", tag = "admin",
    params(("job_id" = String, Path, description = "Job id")), responses((status = 200, description = "Job"), (status = 404, description = "No such job")))]
pub async fn get_sync_job(
    State(state): State<AppState>,
    _admin: Admin,
    Path(job_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state
        .db()
        .sync_job(&job_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no job `{job_id}`")))?;
    Ok(Json(json!(job)))
}

/// Aggregate stats.
#[utoipa::path(get, path = "/api/admin/integrations/stats", tag = "admin", responses((status = 200, description = "Stats")))]
pub async fn get_stats(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.db().stats().await?)))
}

/// Set a provider's OAuth client id and secret (the secret is sealed at rest).
#[utoipa::path(put, path = "/api/admin/providers/{provider}/oauth", tag = "admin",
    params(("provider" = String, Path, description = "Provider id")), responses((status = 200, description = "Saved (secret not echoed)")))]
pub async fn put_oauth_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path(provider): Path<String>,
    body: Payload,
) -> Result<Json<Value>, ApiError> {
    crate::runtime::validate::provider_id(&provider).map_err(ApiError::BadRequest)?;
    let body: OauthClientBody = serde_json::from_slice(&body)
        .map_err(|_| ApiError::BadRequest("expected {\"client_id\", \"client_secret\"}".into()))?;
    if body.client_id.is_empty()
        || body.client_secret.is_empty()
        || body.client_id.len() > 512
        || body.client_secret.len() > 4096
    {
        return Err(ApiError::BadRequest(
            "client_id and client_secret must be non-empty".into(),
        ));
    }
    let sealed = state.keyring.seal(
        &format!("oauth-client:{provider}"),
        body.client_secret.as_bytes(),
    )?;
    state
        .db()
        .put_oauth_client(&provider, &body.client_id, &sealed)
        .await?;
    // Configuring the client approves the OAuth endpoints of the version installed now.
    let services = state.runtime.services();
    let approved = state
        .runtime
        .get(&provider)
        .and_then(|p| crate::oauth::endpoints_of(&p.manifest));
    if let Some(endpoints) = &approved {
        let mut settings = services.settings(&provider);
        settings.oauth_endpoints = Some(endpoints.clone());
        services.set_settings(&provider, settings).await?;
    }
    Ok(Json(
        json!({ "provider": provider, "client_id": body.client_id, "client_secret_set": true,
                "approved_endpoints": approved }),
    ))
}

/// A provider's OAuth client id (never the secret).
#[utoipa::path(get, path = "/api/admin/providers/{provider}/oauth", tag = "admin",
    params(("provider" = String, Path, description = "Provider id")), responses((status = 200, description = "Client id")))]
pub async fn get_oauth_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path(provider): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let client = state.db().oauth_client(&provider).await?;
    Ok(Json(
        json!({ "provider": provider, "client_id": client.as_ref().map(|c| c.0.clone()), "client_secret_set": client.is_some() }),
    ))
}

/// Retry a dead-lettered job now (it resumes from its checkpoint).
#[utoipa::path(post, path = "/api/admin/integrations/sync-jobs/{job_id}/retry", tag = "admin",
    params(("job_id" = String, Path, description = "Job id")),
    responses((status = 200, description = "Queued again"), (status = 409, description = "Not a dead job")))]
pub async fn post_retry_job(
    State(state): State<AppState>,
    _admin: Admin,
    Path(job_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !state.db().retry_dead_job(&job_id).await? {
        return Err(ApiError::Conflict(format!(
            "job `{job_id}` is not dead, or its integration already has a job queued"
        )));
    }
    let job = state.db().sync_job(&job_id).await?;
    Ok(Json(json!(job)))
}

/// Query of the integration list.
#[derive(Debug, Deserialize)]
pub struct IntegrationsQuery {
    status: Option<String>,
    limit: Option<i64>,
}

/// Every user's and organization's integrations (platform admins see everything).
#[utoipa::path(get, path = "/api/admin/integrations", tag = "admin", responses((status = 200, description = "Integrations")))]
pub async fn get_integrations(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<IntegrationsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = state
        .db()
        .all_integrations(q.status.as_deref(), limit)
        .await?;
    let views: Vec<Value> = list.iter().map(super::integrations::view).collect();
    Ok(Json(json!({ "integrations": views })))
}

/// Filters of the delivery log listing.
#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    /// PENDING, DONE or UNMATCHED.
    pub state: Option<String>,
    /// At most this many (1–500, default 50).
    pub limit: Option<i64>,
}

/// The webhook delivery log: counts by state and the newest deliveries (UNMATCHED ones
/// were verified but reached no integration that takes work).
#[utoipa::path(get, path = "/api/admin/webhooks/deliveries", tag = "admin",
    responses((status = 200, description = "Counts by state and deliveries, newest first")))]
pub async fn get_deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let counts: serde_json::Map<String, Value> = state
        .db()
        .delivery_counts()
        .await?
        .into_iter()
        .map(|(s, n)| (s, n.into()))
        .collect();
    let deliveries = state.db().deliveries(q.state.as_deref(), limit).await?;
    Ok(Json(json!({ "counts": counts, "deliveries": deliveries })))
}
