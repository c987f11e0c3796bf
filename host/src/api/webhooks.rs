//! `POST /api/webhooks/integrations/{provider}[/{integration_id}]`: provider callbacks.
//! The provider's plugin verifies the signature and says what changed, right away (a
//! provider wants an answer within seconds, and some want one computed from the body);
//! the work itself goes to the durable queue as resource jobs (one per changed resource,
//! collapsed while pending) or an incremental sync, at webhook priority.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, AppState, Payload};
use crate::bindings::api::{Change, WebhookOutcome, WebhookRequest, WebhookRouting};
use crate::db::{Integration as Row, status};
use crate::runtime::Integration;

/// Receive a webhook for a provider that routes by account (one endpoint per app).
#[utoipa::path(post, path = "/api/webhooks/integrations/{provider}", tag = "webhooks", security(()),
    params(("provider" = String, Path, description = "Provider id")),
    responses((status = 200, description = "Accepted (or the provider's required answer)"),
        (status = 401, description = "Signature did not verify"), (status = 404, description = "No such provider or route")))]
pub async fn per_app(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Payload,
) -> Result<Response, ApiError> {
    let req = request(&method, &uri, &headers, &body, "");
    receive(&state, &provider, None, req).await
}

/// Receive a webhook for one integration (the callback URL names it).
#[utoipa::path(post, path = "/api/webhooks/integrations/{provider}/{integration_id}", tag = "webhooks", security(()),
    params(("provider" = String, Path, description = "Provider id"), ("integration_id" = String, Path, description = "Integration id")),
    responses((status = 200, description = "Accepted (or the provider's required answer)"),
        (status = 401, description = "Signature did not verify"), (status = 404, description = "No such provider, route or integration")))]
pub async fn per_integration(
    State(state): State<AppState>,
    Path((provider, integration_id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Payload,
) -> Result<Response, ApiError> {
    let req = request(
        &method,
        &uri,
        &headers,
        &body,
        &format!("/{integration_id}"),
    );
    receive(&state, &provider, Some(&integration_id), req).await
}

fn request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    path: &str,
) -> WebhookRequest {
    WebhookRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body: body.to_vec(),
    }
}

async fn receive(
    state: &AppState,
    provider: &str,
    integration_id: Option<&str>,
    req: WebhookRequest,
) -> Result<Response, ApiError> {
    let result = receive_inner(state, provider, integration_id, req).await;
    match &result {
        Ok((_, matched)) => {
            crate::metrics::webhook(provider, if *matched { "accepted" } else { "unmatched" })
        }
        // Unknown providers are not labels: anyone can send any path.
        Err(ApiError::NotFound(_)) => crate::metrics::webhook("-", "not_found"),
        Err(e) => crate::metrics::webhook(provider, e.code()),
    }
    result.map(|(r, _)| r)
}

async fn receive_inner(
    state: &AppState,
    provider: &str,
    integration_id: Option<&str>,
    req: WebhookRequest,
) -> Result<(Response, bool), ApiError> {
    let unknown = || ApiError::NotFound(format!("`{provider}` takes no webhooks at this address"));
    let plugin = state.runtime.get(provider).ok_or_else(unknown)?;
    let row = match (plugin.manifest.webhook, integration_id) {
        (WebhookRouting::PerIntegration, Some(id)) => Some(
            state
                .db()
                .integration_by_id(id)
                .await?
                .filter(|r| r.provider == provider && r.status != status::DISCONNECTED)
                .ok_or_else(unknown)?,
        ),
        (WebhookRouting::PerApp, None) => None,
        _ => return Err(unknown()),
    };
    let integration = row
        .as_ref()
        .map(|r| Integration::new(&r.id, r.config_pairs()));
    let mut session = state.runtime.session(provider, integration).await?;
    let outcome = session.webhook(&req).await?;
    if !outcome.verified {
        tracing::warn!(provider, "webhook signature did not verify");
        return Err(ApiError::InvalidSignature);
    }
    let targets = match row {
        Some(r) => vec![r],
        None => match &outcome.account_id {
            Some(account) => {
                state
                    .db()
                    .integrations_by_account(provider, account)
                    .await?
            }
            None => Vec::new(),
        },
    };
    let mut queued = 0;
    for target in targets.iter().filter(|t| accepts_work(t)) {
        queued += enqueue(state, target, &outcome).await?;
    }
    if targets.is_empty() {
        tracing::warn!(provider, account = ?outcome.account_id, "webhook for no connected integration");
    }
    let response = match outcome.response {
        Some(r) => answer(r.status, &r.headers, r.body),
        None => Json(json!({ "received": true, "queued": queued })).into_response(),
    };
    Ok((response, !targets.is_empty()))
}

fn accepts_work(row: &Row) -> bool {
    !matches!(
        row.status.as_str(),
        status::PAUSED | status::DISCONNECTED | status::TOKEN_EXPIRED
    )
}

async fn enqueue(state: &AppState, row: &Row, outcome: &WebhookOutcome) -> Result<usize, ApiError> {
    let db = state.db();
    for change in &outcome.changes {
        let (id, action) = match change {
            Change::Upsert(id) => (id, "upsert"),
            Change::Delete(id) => (id, "delete"),
        };
        db.request_resource(&row.id, &row.provider, id, action)
            .await?;
    }
    if outcome.sync_requested {
        db.request_sync(&row.id, &row.provider, "incremental", "webhook")
            .await?;
    }
    Ok(outcome.changes.len() + usize::from(outcome.sync_requested))
}

/// The provider's required answer; only a content type is taken from the plugin (it
/// must not set cookies or other headers on the host's origin).
fn answer(status: u16, headers: &[(String, String)], body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(|s| s.is_success())
        .unwrap_or(StatusCode::OK);
    let mut resp = (status, body).into_response();
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .and_then(|(_, v)| HeaderValue::from_str(v).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    resp
}
