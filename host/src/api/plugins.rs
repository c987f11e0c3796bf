//! `/api/admin/plugins`: list, show, install (raw `.wasm` body) and remove plugins;
//! `/api/admin/providers/{id}/settings`: base-URL overrides and approved permissions.

use axum::Json;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::Admin;
use super::error::ErrorBody;
use super::{ApiError, AppState, Payload};
use crate::model::Manifest;
use crate::model::{Auth, Category, FieldKind, Permission};
use crate::runtime::LoadedPlugin;
use crate::services::ProviderSettings;

/// A loaded plugin as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginView {
    /// Provider id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Icon.
    pub icon: String,
    /// Category.
    pub category: String,
    /// Plugin version.
    pub version: String,
    /// `none`, `oauth2`, `api_key` or `basic`.
    pub auth: String,
    /// OAuth scopes, when OAuth.
    pub scopes: Vec<String>,
    /// Capabilities.
    pub capabilities: CapabilitiesView,
    /// Rate limits.
    pub rate_limits: RateLimitsView,
    /// Allowed hosts.
    pub allowed_hosts: Vec<String>,
    /// Configuration fields.
    pub config: Vec<ConfigFieldView>,
    /// Requested permissions.
    pub permissions: Vec<String>,
    /// Declared actions: name, title, description and JSON Schema of the input.
    pub actions: Vec<ActionView>,
    /// The WIT version the plugin is built against.
    pub wit_version: String,
    /// File in the plugins dir.
    pub file: String,
    /// SHA-256 of the file.
    pub sha256: String,
}

/// What a plugin can do.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilitiesView {
    pull: bool,
    incremental: bool,
    webhooks: bool,
    subscribe: bool,
}

/// A plugin's declared request budget.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitsView {
    requests_per_minute: u32,
    requests_per_day: Option<u32>,
    concurrency: u32,
}

/// One setting of a plugin's config schema.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigFieldView {
    key: String,
    label: String,
    help: String,
    /// `text`, `url`, `number`, `boolean` or `secret`.
    kind: String,
    required: bool,
    default: Option<String>,
}

/// An action a plugin declares.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionView {
    name: String,
    title: String,
    description: String,
    /// JSON Schema of the input.
    input_schema: Value,
}

/// `GET /api/admin/plugins`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginList {
    plugins: Vec<PluginView>,
    /// Every file in the plugins dir, loaded or refused (with the reason).
    files: Vec<crate::db::PluginFileRow>,
}

fn category(c: &Category) -> &'static str {
    match c {
        Category::Storage => "storage",
        Category::Productivity => "productivity",
        Category::Communication => "communication",
        Category::Development => "development",
        Category::Crm => "crm",
        Category::Social => "social",
        Category::Media => "media",
        Category::Other => "other",
    }
}

fn field_kind(k: &FieldKind) -> &'static str {
    match k {
        FieldKind::Text => "text",
        FieldKind::Url => "url",
        FieldKind::Number => "number",
        FieldKind::Boolean => "boolean",
        FieldKind::Secret => "secret",
    }
}

fn permission(p: &Permission) -> &'static str {
    match p {
        Permission::RawToken => crate::caps::RAW_TOKEN,
    }
}

impl PluginView {
    /// The view of a loaded plugin.
    pub fn new(p: &LoadedPlugin) -> Self {
        let m: &Manifest = &p.manifest;
        let (auth, scopes) = match &m.auth {
            Auth::None => ("none", vec![]),
            Auth::Oauth2(o) => ("oauth2", o.scopes.clone()),
            Auth::ApiKey(_) => ("api_key", vec![]),
            Auth::Basic => ("basic", vec![]),
        };
        PluginView {
            id: m.id.clone(),
            name: m.name.clone(),
            description: m.description.clone(),
            icon: m.icon.clone(),
            category: category(&m.category).into(),
            version: m.version.clone(),
            auth: auth.into(),
            scopes,
            capabilities: CapabilitiesView {
                pull: m.capabilities.pull,
                incremental: m.capabilities.incremental,
                webhooks: m.capabilities.webhooks,
                subscribe: m.capabilities.subscribe,
            },
            rate_limits: RateLimitsView {
                requests_per_minute: m.rate_limits.requests_per_minute,
                requests_per_day: m.rate_limits.requests_per_day,
                concurrency: m.rate_limits.concurrency,
            },
            allowed_hosts: m.allowed_hosts.clone(),
            config: m
                .config
                .iter()
                .map(|f| ConfigFieldView {
                    key: f.key.clone(),
                    label: f.label.clone(),
                    help: f.help.clone(),
                    kind: field_kind(&f.kind).into(),
                    required: f.required,
                    default: f.default.clone(),
                })
                .collect(),
            permissions: m.permissions.iter().map(|p| permission(p).into()).collect(),
            actions: m
                .actions
                .iter()
                .map(|a| {
                    let schema: Value =
                        serde_json::from_str(&a.input_schema).unwrap_or(Value::Null);
                    ActionView {
                        name: a.name.clone(),
                        title: a.title.clone(),
                        description: a.description.clone(),
                        input_schema: schema,
                    }
                })
                .collect(),
            wit_version: m.wit_version.into(),
            file: p.file_name.clone(),
            sha256: p.sha256.clone(),
        }
    }
}

/// Loaded plugins and the state of every plugin file.
#[utoipa::path(get, path = "/api/admin/plugins", tag = "plugins",
    responses((status = 200, body = PluginList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Json<PluginList> {
    let plugins: Vec<PluginView> = state
        .runtime
        .plugins()
        .iter()
        .map(|p| PluginView::new(p))
        .collect();
    Json(PluginList {
        plugins,
        files: state.runtime.files(),
    })
}

/// One plugin.
#[utoipa::path(get, path = "/api/admin/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = PluginView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "Not installed")))]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<PluginView>, ApiError> {
    let p = state
        .runtime
        .get(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no plugin `{id}`")))?;
    Ok(Json(PluginView::new(&p)))
}

/// Install or replace a plugin: the body is the `.wasm` file.
#[utoipa::path(post, path = "/api/admin/plugins", tag = "plugins",
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The `.wasm` component"),
    responses((status = 201, body = PluginView, description = "Installed"), (status = 400, body = ErrorBody, description = "Empty or too large"),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "Another file provides this id"),
        (status = 422, body = ErrorBody, description = "Refused, with the reason")))]
pub async fn install(
    State(state): State<AppState>,
    _admin: Admin,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
    let body = axum::body::to_bytes(body, super::MAX_PLUGIN_UPLOAD)
        .await
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "plugins are limited to {} bytes",
                super::MAX_PLUGIN_UPLOAD
            ))
        })?;
    if body.is_empty() {
        return Err(ApiError::BadRequest(
            "send the plugin's .wasm bytes as the request body".into(),
        ));
    }
    let p = state.runtime.install(body.to_vec()).await?;
    Ok((StatusCode::CREATED, Json(PluginView::new(&p))))
}

/// Remove a plugin: the provider becomes unavailable; its data is kept.
#[utoipa::path(delete, path = "/api/admin/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "Provider id")),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "Not installed")))]
pub async fn remove(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.runtime.remove(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no plugin `{id}`")))
    }
}

/// A provider's admin settings (base-URL overrides, approved permissions, rate limits).
#[utoipa::path(get, path = "/api/admin/providers/{id}/settings", tag = "plugins",
    params(("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = ProviderSettings), (status = 403, body = ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Json<ProviderSettings> {
    Json(state.runtime.services().settings(&id))
}

/// Set a provider's admin settings.
#[utoipa::path(put, path = "/api/admin/providers/{id}/settings", tag = "plugins",
    params(("id" = String, Path, description = "Provider id")), request_body = ProviderSettings,
    responses((status = 200, body = ProviderSettings, description = "Saved"), (status = 400, body = ErrorBody, description = "Invalid"), (status = 403, body = ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    body: Payload,
) -> Result<Json<ProviderSettings>, ApiError> {
    crate::runtime::validate::provider_id(&id).map_err(ApiError::BadRequest)?;
    let mut settings: ProviderSettings = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid settings: {e}")))?;
    // Editing overrides must not drop the approved OAuth endpoints (the next use would
    // pin whatever the installed version says); approving new ones is explicit.
    if settings.oauth_endpoints.is_none() {
        settings.oauth_endpoints = state.runtime.services().settings(&id).oauth_endpoints;
    }
    if let Some(rl) = &settings.rate_limits {
        rl.check().map_err(ApiError::BadRequest)?;
    }
    for (from, to) in &settings.base_urls {
        for u in [from, to] {
            let parsed = url::Url::parse(u)
                .map_err(|e| ApiError::BadRequest(format!("base URL {u:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                return Err(ApiError::BadRequest(format!(
                    "base URL {u:?} must be http(s) with a host"
                )));
            }
        }
    }
    Ok(Json(
        state.runtime.services().set_settings(&id, settings).await?,
    ))
}
