//! Admin endpoints (platform admins only): the integration registry, sync jobs, stats,
//! and each provider's OAuth client (the secret is sealed and never shown again).

use axum::Json;

use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::ErrorBody;
use super::integrations::IntegrationList;
use super::{ApiError, AppState, Payload, PluginView};
use crate::db::{Delivery, RegistryEntry, Stats, SyncJob};

/// One provider in the registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryItem {
    registry: RegistryEntry,
    plugin: PluginView,
}

/// `GET /api/admin/integrations/registry`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistryList {
    providers: Vec<RegistryItem>,
}

/// `GET /api/admin/integrations/sync-jobs`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    jobs: Vec<SyncJob>,
}

/// A provider's OAuth client as the API shows it (never the secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct OauthClientView {
    provider: String,
    client_id: Option<String>,
    client_secret_set: bool,
    /// The endpoints saving the client approved (on `PUT` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    approved_endpoints: Option<crate::services::OauthEndpoints>,
}

/// `GET /api/admin/webhooks/deliveries`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    /// Deliveries by state.
    counts: std::collections::BTreeMap<String, i64>,
    deliveries: Vec<Delivery>,
}

/// Body of `PUT /api/admin/integrations/registry/{provider}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryBody {
    enabled: Option<bool>,
    allowed_plans: Option<Vec<String>>,
    default_config: Option<Map<String, Value>>,
    /// Declared actions users may run (creating a Gmail draft); none by default.
    enabled_actions: Option<Vec<String>>,
}

/// Body of `PUT /api/admin/providers/{provider}/oauth`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OauthClientBody {
    client_id: String,
    client_secret: String,
}

/// Query of the job list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct JobsQuery {
    limit: Option<i64>,
    integration_id: Option<String>,
    /// Only jobs in this status (`DEAD` lists the dead letters).
    status: Option<String>,
}

/// Every installed provider with its registry entry.
#[utoipa::path(get, path = "/api/admin/integrations/registry", tag = "admin",
    responses((status = 200, body = RegistryList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_registry(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<RegistryList>, ApiError> {
    let mut out = Vec::new();
    for p in state.runtime.plugins() {
        let entry = state.db().registry_entry(&p.manifest.id).await?;
        out.push(RegistryItem {
            registry: entry,
            plugin: PluginView::new(&p),
        });
    }
    Ok(Json(RegistryList { providers: out }))
}

/// Enable/disable a provider, restrict it to plans, set its default config, enable its
/// actions (a newly enabled action's scopes are asked for at the next connection).
#[utoipa::path(put, path = "/api/admin/integrations/registry/{provider}", tag = "admin",
    params(("provider" = String, Path, description = "Provider id")), request_body = RegistryBody,
    responses((status = 200, body = RegistryEntry, description = "Updated entry"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "Actions of a provider not installed")))]
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
#[utoipa::path(get, path = "/api/admin/integrations/sync-jobs", tag = "admin", params(JobsQuery),
    responses((status = 200, body = JobList, description = "Jobs, newest first"), (status = 403, body = ErrorBody)))]
pub async fn get_sync_jobs(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<JobsQuery>,
) -> Result<Json<JobList>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let jobs = state
        .db()
        .sync_jobs_where(q.integration_id.as_deref(), q.status.as_deref(), limit)
        .await?;
    Ok(Json(JobList { jobs }))
}

async fn job(state: &AppState, job_id: &str) -> Result<SyncJob, ApiError> {
    state
        .db()
        .sync_job(job_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no job `{job_id}`")))
}

/// One sync job.
#[utoipa::path(get, path = "/api/admin/integrations/sync-jobs/{job_id}", tag = "admin",
    params(("job_id" = String, Path, description = "Job id")),
    responses((status = 200, body = SyncJob), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "No such job")))]
pub async fn get_sync_job(
    State(state): State<AppState>,
    _admin: Admin,
    Path(job_id): Path<String>,
) -> Result<Json<SyncJob>, ApiError> {
    Ok(Json(job(&state, &job_id).await?))
}

/// Aggregate stats.
#[utoipa::path(get, path = "/api/admin/integrations/stats", tag = "admin",
    responses((status = 200, body = Stats), (status = 403, body = ErrorBody)))]
pub async fn get_stats(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Stats>, ApiError> {
    Ok(Json(state.db().stats().await?))
}

/// Set a provider's OAuth client id and secret (the secret is sealed at rest).
#[utoipa::path(put, path = "/api/admin/providers/{provider}/oauth", tag = "admin",
    params(("provider" = String, Path, description = "Provider id")), request_body = OauthClientBody,
    responses((status = 200, body = OauthClientView, description = "Saved (secret not echoed)"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn put_oauth_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path(provider): Path<String>,
    body: Payload,
) -> Result<Json<OauthClientView>, ApiError> {
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
    Ok(Json(OauthClientView {
        provider,
        client_id: Some(body.client_id),
        client_secret_set: true,
        approved_endpoints: approved,
    }))
}

/// A provider's OAuth client id (never the secret).
#[utoipa::path(get, path = "/api/admin/providers/{provider}/oauth", tag = "admin",
    params(("provider" = String, Path, description = "Provider id")),
    responses((status = 200, body = OauthClientView), (status = 403, body = ErrorBody)))]
pub async fn get_oauth_client(
    State(state): State<AppState>,
    _admin: Admin,
    Path(provider): Path<String>,
) -> Result<Json<OauthClientView>, ApiError> {
    let client = state.db().oauth_client(&provider).await?;
    Ok(Json(OauthClientView {
        provider,
        client_secret_set: client.is_some(),
        client_id: client.map(|c| c.0),
        approved_endpoints: None,
    }))
}

/// Retry a dead-lettered job now (it resumes from its checkpoint).
#[utoipa::path(post, path = "/api/admin/integrations/sync-jobs/{job_id}/retry", tag = "admin",
    params(("job_id" = String, Path, description = "Job id")),
    responses((status = 200, body = SyncJob, description = "Queued again"), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "Not a dead job")))]
pub async fn post_retry_job(
    State(state): State<AppState>,
    _admin: Admin,
    Path(job_id): Path<String>,
) -> Result<Json<SyncJob>, ApiError> {
    if !state.db().retry_dead_job(&job_id).await? {
        return Err(ApiError::Conflict(format!(
            "job `{job_id}` is not dead, or its integration already has a job queued"
        )));
    }
    Ok(Json(job(&state, &job_id).await?))
}

/// Query of the integration list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct IntegrationsQuery {
    status: Option<String>,
    limit: Option<i64>,
}

/// Every user's and organization's integrations (platform admins see everything).
#[utoipa::path(get, path = "/api/admin/integrations", tag = "admin", params(IntegrationsQuery),
    responses((status = 200, body = IntegrationList), (status = 403, body = ErrorBody)))]
pub async fn get_integrations(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<IntegrationsQuery>,
) -> Result<Json<IntegrationList>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = state
        .db()
        .all_integrations(q.status.as_deref(), limit)
        .await?;
    Ok(Json(IntegrationList::of(&list)))
}

/// Filters of the delivery log listing.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveriesQuery {
    /// PENDING, DONE or UNMATCHED.
    pub state: Option<String>,
    /// At most this many (1–500, default 50).
    pub limit: Option<i64>,
}

/// The webhook delivery log: counts by state and the newest deliveries (UNMATCHED ones
/// were verified but reached no integration that takes work).
#[utoipa::path(get, path = "/api/admin/webhooks/deliveries", tag = "admin", params(DeliveriesQuery),
    responses((status = 200, body = DeliveryList, description = "Counts by state and deliveries, newest first"), (status = 403, body = ErrorBody)))]
pub async fn get_deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let counts = state.db().delivery_counts().await?.into_iter().collect();
    let deliveries = state.db().deliveries(q.state.as_deref(), limit).await?;
    Ok(Json(DeliveryList { counts, deliveries }))
}
