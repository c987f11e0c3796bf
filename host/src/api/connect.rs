//! Connecting an account: OAuth (authorize URL, then the callback that checks the state,
//! exchanges the code, asks the plugin who the account is and stores the tokens), or a
//! validated POST with an API key or user name and password.

use axum::Json;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::auth::{Access, Caller, scope};
use super::integrations::{check_config, check_strategy, optional_json, view};
use super::{ApiError, AppState, Payload};
use crate::credentials::{Credential, Kind};
use crate::db::{Connect, OauthState, Owner, now_ms};
use crate::ingest::METADATA_ONLY;
use crate::model::Auth;
use crate::oauth::{self, TokenSet};
use crate::runtime::Integration;
use crate::scopes::{self, Conditions};

/// How long an OAuth state stays valid.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;

/// Body of `POST …/connect`.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    /// Provider settings.
    pub config: Option<Map<String, Value>>,
    /// `FULL_CONTENT` or `METADATA_ONLY` (default: the integration's, on a reconnect, else
    /// full content); for OAuth providers it also decides the scopes asked for (Drive:
    /// `drive.metadata.readonly` for metadata only).
    pub storage_strategy: Option<String>,
    /// For API-key providers, and in place of the OAuth flow for OAuth providers (a
    /// personal access token).
    pub api_key: Option<String>,
    /// For basic-auth providers.
    pub username: Option<String>,
    /// For basic-auth providers.
    pub password: Option<String>,
}

/// The provider's consent page to send the browser to.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AuthorizeView {
    /// The authorization URL (with state and PKCE challenge).
    pub auth_url: String,
}

/// Query of the OAuth callback.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

fn callback_url(state: &AppState, slug: Option<&str>, provider: &str) -> String {
    match slug {
        None => format!("{}/api/integrations/{provider}/callback", state.urls.public),
        Some(s) => format!(
            "{}/api/organizations/{s}/integrations/{provider}/callback",
            state.urls.public
        ),
    }
}

/// Ask the plugin who the account is with `credential`, then store integration and credential.
async fn finish(
    state: &AppState,
    owner: &Owner,
    provider: &str,
    user_id: &str,
    config: Map<String, Value>,
    storage_strategy: &str,
    credential: Option<(Kind, TokenSet, Option<String>)>,
) -> Result<crate::db::Integration, ApiError> {
    let mut probe = Integration::new(
        format!("connecting-{}", uuid::Uuid::new_v4()),
        crate::db::config_pairs(&config),
    );
    if let Some((kind, tokens, username)) = &credential {
        probe = probe.with_candidate(Credential {
            kind: *kind,
            secret: tokens.access.clone(),
            username: username.clone(),
            scopes: tokens.scopes.clone(),
            expires_at: tokens.expires_at,
        });
    }
    let account = state
        .runtime
        .session(provider, Some(probe))
        .await?
        .check()
        .await?;
    let mut row = state
        .db()
        .connect_integration(Connect {
            owner,
            provider,
            user_id,
            config: &config,
            account: (&account.id, &account.name),
        })
        .await?;
    if row.storage_strategy != storage_strategy {
        state
            .db()
            .update_integration_settings(&row.id, &config, storage_strategy, &row.sync_frequency)
            .await?;
        row.storage_strategy = storage_strategy.to_string();
    }
    if let Some((kind, tokens, username)) = credential {
        state.vault.store(&row.id, kind, &tokens, username).await?;
    }
    // The first sync starts now, not at the next scheduler tick.
    state
        .db()
        .request_sync(&row.id, provider, "full", "connect")
        .await?;
    // Real-time updates from now on, when the provider offers them; a failure is recorded
    // on the integration and retried, it does not undo the connection.
    state.subscriptions().subscribe(&row).await?;
    Ok(row)
}

async fn connect(
    state: AppState,
    caller: Caller,
    slug: Option<String>,
    provider: String,
    body: ConnectBody,
) -> Result<Response, ApiError> {
    let (owner, plan) = scope(&state, &caller.0, slug.as_deref(), Access::Write).await?;
    let plugin = state
        .runtime
        .get(&provider)
        .ok_or_else(|| ApiError::NotFound(format!("no provider `{provider}`")))?;
    let entry = state.db().registry_entry(&provider).await?;
    if !entry.offered_to(&plan) {
        return Err(ApiError::Forbidden(format!(
            "`{provider}` is not available on the `{plan}` plan"
        )));
    }
    let mut config = entry.default_config.clone();
    config.extend(body.config.unwrap_or_default());
    check_config(&state, &provider, &config)?;
    // A reconnect keeps the integration's strategy unless the body names one.
    let strategy = match body.storage_strategy {
        Some(s) => s,
        None => state
            .db()
            .integration(&owner, &provider)
            .await?
            .map_or_else(|| "FULL_CONTENT".to_string(), |i| i.storage_strategy),
    };
    check_strategy(&strategy)?;
    let missing =
        |what: &str| ApiError::BadRequest(format!("`{provider}` needs `{what}` to connect"));
    match &plugin.manifest.auth {
        // A personal access token in place of the OAuth flow (GitHub fine-grained
        // tokens, GitLab personal access tokens): sent like an access token, never
        // refreshed.
        Auth::Oauth2(o) if body.api_key.is_none() => {
            let scopes = scopes::requested(
                &o.scopes,
                Conditions {
                    metadata_only: strategy == METADATA_ONLY,
                    enabled_actions: &entry.enabled_actions,
                },
            );
            let creds = oauth::client_credentials(
                state.runtime.services(),
                &state.keyring,
                &plugin.manifest,
            )
            .await
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
            let redirect = callback_url(&state, slug.as_deref(), &provider);
            let (url, csrf, verifier) = oauth::authorize(
                state.runtime.services(),
                &plugin.manifest,
                creds,
                &redirect,
                &scopes,
            )
            .map_err(|e| ApiError::Conflict(e.to_string()))?;
            let (owner_kind, owner_id) = match &owner {
                Owner::User(id) => ("user", id.clone()),
                Owner::Org(id) => ("org", id.clone()),
            };
            let hash = state_hash(&csrf);
            let sealed = state
                .keyring
                .seal(&format!("oauth-state:{hash}"), verifier.as_bytes())?;
            let record = OauthState {
                provider: provider.clone(),
                owner_kind: owner_kind.into(),
                owner_id,
                user_id: caller.0.id.clone(),
                verifier: sealed,
                config,
                storage_strategy: strategy,
                scopes,
                expires_at: now_ms() + STATE_TTL_MS,
            };
            state.db().insert_oauth_state(&hash, &record).await?;
            Ok(Json(AuthorizeView { auth_url: url }).into_response())
        }
        auth => {
            let credential = match auth {
                Auth::ApiKey(_) | Auth::Oauth2(_) => {
                    let key = body
                        .api_key
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| missing("api_key"))?;
                    Some((
                        Kind::ApiKey,
                        TokenSet {
                            access: key,
                            refresh: None,
                            expires_at: None,
                            scopes: vec![],
                        },
                        None,
                    ))
                }
                Auth::Basic => {
                    let user = body
                        .username
                        .filter(|u| !u.is_empty())
                        .ok_or_else(|| missing("username"))?;
                    let pass = body.password.ok_or_else(|| missing("password"))?;
                    Some((
                        Kind::Basic,
                        TokenSet {
                            access: pass,
                            refresh: None,
                            expires_at: None,
                            scopes: vec![],
                        },
                        Some(user),
                    ))
                }
                _ => None,
            };
            let row = finish(
                &state,
                &owner,
                &provider,
                &caller.0.id,
                config,
                &strategy,
                credential,
            )
            .await?;
            Ok((StatusCode::CREATED, Json(view(&row))).into_response())
        }
    }
}

/// Where the browser goes after the callback.
fn outcome(state: &AppState, provider: &str, result: Result<(), (&str, String)>) -> Response {
    let mut url = url::Url::parse(&state.urls.frontend).expect("frontend URL validated at start");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("provider", provider);
        match &result {
            Ok(()) => {
                q.append_pair("status", "connected");
            }
            Err((code, message)) => {
                q.append_pair("error", code);
                q.append_pair("message", message);
            }
        }
    }
    Redirect::to(url.as_str()).into_response()
}

async fn callback(
    state: AppState,
    headers: HeaderMap,
    slug: Option<String>,
    provider: String,
    q: CallbackQuery,
) -> Response {
    let result = callback_inner(&state, &headers, slug, &provider, q).await;
    if let Err((code, msg)) = &result {
        tracing::warn!(provider, code, msg, "OAuth callback refused");
    }
    outcome(&state, &provider, result)
}

async fn callback_inner(
    state: &AppState,
    headers: &HeaderMap,
    slug: Option<String>,
    provider: &str,
    q: CallbackQuery,
) -> Result<(), (&'static str, String)> {
    let internal = |e: anyhow::Error| {
        tracing::error!(error = %format!("{e:#}"), "OAuth callback failed");
        ("internal", "something went wrong; try again".to_string())
    };
    let raw_state = q
        .state
        .ok_or(("invalid_state", "the callback carries no state".to_string()))?;
    let hash = state_hash(&raw_state);
    // Consumed before anything else: a state works once, whatever happens next.
    let pending = state
        .db()
        .take_oauth_state(&hash)
        .await
        .map_err(internal)?
        .ok_or(("invalid_state", "unknown or already used state".to_string()))?;
    if pending.expires_at < now_ms() {
        return Err((
            "expired_state",
            "the authorization took too long; connect again".into(),
        ));
    }
    let expected_owner = match &slug {
        None => ("user".to_string(), pending.user_id.clone()),
        Some(s) => {
            let org = state.db().org_by_slug(s).await.map_err(internal)?;
            ("org".to_string(), org.map(|o| o.id).unwrap_or_default())
        }
    };
    if pending.provider != provider
        || (pending.owner_kind.clone(), pending.owner_id.clone()) != expected_owner
    {
        return Err((
            "state_mismatch",
            "this authorization was started for another account or provider".into(),
        ));
    }
    // A caller that identifies itself must be the user who started the flow.
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        let mut parts = axum::http::Request::new(()).into_parts().0;
        parts.headers = headers.clone();
        let caller = <Caller as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, state,
        )
        .await;
        if !matches!(caller, Ok(Caller(u)) if u.id == pending.user_id) {
            return Err((
                "state_mismatch",
                "this authorization belongs to another user".into(),
            ));
        }
    }
    if let Some(e) = q.error {
        return Err(("access_denied", format!("the provider said: {e}")));
    }
    let code = q.code.ok_or((
        "invalid_request",
        "the callback carries no code".to_string(),
    ))?;
    let plugin = state.runtime.get(provider).ok_or((
        "not_installed",
        format!("provider `{provider}` is not installed"),
    ))?;
    let verifier = state
        .keyring
        .open_sealed(&format!("oauth-state:{hash}"), &pending.verifier)
        .map_err(internal)?;
    let creds =
        oauth::client_credentials(state.runtime.services(), &state.keyring, &plugin.manifest)
            .await
            .map_err(|e| ("not_configured", e.to_string()))?;
    let redirect = callback_url(state, slug.as_deref(), provider);
    let tokens = oauth::exchange(
        state.runtime.services(),
        &plugin.manifest,
        creds,
        &redirect,
        &code,
        &String::from_utf8_lossy(&verifier),
        &pending.scopes,
    )
    .await
    .map_err(|e| ("token_exchange_failed", e.to_string()))?;
    let owner = if pending.owner_kind == "org" {
        Owner::Org(pending.owner_id.clone())
    } else {
        Owner::User(pending.owner_id.clone())
    };
    // The registry's defaults with the user's settings over them, as checked at connect.
    finish(
        state,
        &owner,
        provider,
        &pending.user_id,
        pending.config.clone(),
        &pending.storage_strategy,
        Some((Kind::Oauth2, tokens, None)),
    )
    .await
    .map_err(|e| ("check_failed", e.to_string()))?;
    Ok(())
}

/// Start connecting: an OAuth authorize URL, or (API key, basic, none) a validated connection.
#[utoipa::path(post, path = "/api/integrations/{provider}/connect", tag = "integrations",
    params(("provider" = String, Path, description = "Provider id")),
    request_body = Option<ConnectBody>,
    responses((status = 200, body = AuthorizeView, description = "`{auth_url}` for OAuth providers"),
        (status = 201, body = super::integrations::IntegrationView, description = "Connected"),
        (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody, description = "No OAuth client configured"),
        (status = 422, body = super::error::ErrorBody, description = "The provider rejected the credentials"),
        (status = 502, body = super::error::ErrorBody, description = "The provider or its plugin failed")))]
pub async fn post_connect(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
    body: Payload,
) -> Result<Response, ApiError> {
    connect(state, caller, None, provider, optional_json(&body)?).await
}

/// Start connecting an organization's account (owners and admins).
#[utoipa::path(post, path = "/api/organizations/{slug}/integrations/{provider}/connect", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug"), ("provider" = String, Path, description = "Provider id")),
    request_body = Option<ConnectBody>,
    responses((status = 200, body = AuthorizeView, description = "`{auth_url}` for OAuth providers"),
        (status = 201, body = super::integrations::IntegrationView, description = "Connected"),
        (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody, description = "Members may not connect"), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody, description = "No OAuth client configured"),
        (status = 422, body = super::error::ErrorBody, description = "The provider rejected the credentials"),
        (status = 502, body = super::error::ErrorBody, description = "The provider or its plugin failed")))]
pub async fn org_post_connect(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, provider)): Path<(String, String)>,
    body: Payload,
) -> Result<Response, ApiError> {
    connect(state, caller, Some(slug), provider, optional_json(&body)?).await
}

/// OAuth callback: checks the state, exchanges the code, redirects to the frontend.
#[utoipa::path(get, path = "/api/integrations/{provider}/callback", tag = "integrations",
    params(("provider" = String, Path, description = "Provider id")),
    responses((status = 303, description = "Redirect to the frontend with `status=connected` or `error=<code>`")))]
pub async fn get_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    callback(state, headers, None, provider, q).await
}

/// OAuth callback for an organization's connection.
#[utoipa::path(get, path = "/api/organizations/{slug}/integrations/{provider}/callback", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug"), ("provider" = String, Path, description = "Provider id")),
    responses((status = 303, description = "Redirect to the frontend")))]
pub async fn org_get_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, provider)): Path<(String, String)>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    callback(state, headers, Some(slug), provider, q).await
}
