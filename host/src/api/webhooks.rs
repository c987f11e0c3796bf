//! `POST /api/webhooks/integrations/{provider}[/{integration_id}]`: provider callbacks.
//! The provider's plugin verifies the signature and says what changed, on the request
//! path (a forged call gets 401 and leaves no trace); the delivery and what it asks for
//! are then committed to the delivery log (group commit) before the 2xx. Routing and
//! fan-out into jobs happen in the webhook worker, so the answer never waits on them; a
//! delivery id seen before is acknowledged without new work.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{ApiError, AppState, Payload};
use crate::db::{DeliveryWork, NewDelivery, status};
use crate::model::{Change, WebhookRequest, WebhookRouting};
use crate::runtime::Integration;
use crate::webhooks::Recorded;

/// The host's answer to a delivery (unless the provider requires its own, which the
/// plugin then gives with its content type).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// Always true: verified and recorded (or nothing to record).
    received: bool,
    /// The delivery's id in the log, when it asked for work.
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<String>,
    /// Present when the provider's delivery id was seen before.
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate: Option<bool>,
}

/// Receive a webhook for a provider that routes by account (one endpoint per app).
#[utoipa::path(post, path = "/api/webhooks/integrations/{provider}", tag = "webhooks", security(()),
    params(("provider" = String, Path, description = "Provider id")),
    responses((status = 200, body = WebhookAnswer, description = "Accepted (or the provider's required answer)"),
        (status = 401, body = ErrorBody, description = "Signature did not verify"), (status = 404, body = ErrorBody, description = "No such provider or route"),
        (status = 413, body = ErrorBody, description = "Body over the limit"), (status = 503, body = ErrorBody, description = "Not recorded; deliver again")))]
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
    responses((status = 200, body = WebhookAnswer, description = "Accepted (or the provider's required answer)"),
        (status = 401, body = ErrorBody, description = "Signature did not verify"), (status = 404, body = ErrorBody, description = "No such provider, route or integration"),
        (status = 413, body = ErrorBody, description = "Body over the limit"), (status = 503, body = ErrorBody, description = "Not recorded; deliver again")))]
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
        subscription_secret: None,
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
        Ok((_, label)) => crate::metrics::webhook(provider, label),
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
    mut req: WebhookRequest,
) -> Result<(Response, &'static str), ApiError> {
    let unknown = || ApiError::NotFound(format!("`{provider}` takes no webhooks at this address"));
    let plugin = state.runtime.get(provider).ok_or_else(unknown)?;
    let row = match (plugin.manifest.webhook, integration_id) {
        (WebhookRouting::PerIntegration, Some(id)) => Some(
            state
                .webhooks
                .integration(id)
                .await?
                .filter(|r| r.provider == provider && r.status != status::DISCONNECTED)
                .ok_or_else(unknown)?,
        ),
        (WebhookRouting::PerApp, None) => None,
        _ => return Err(unknown()),
    };
    if !state.webhooks.provider_enabled(provider).await? {
        return Err(unknown());
    }
    if let Some(r) = &row
        && plugin.manifest.capabilities.subscribe
        && plugin.manifest.wit_version != "0.1.0"
    {
        req.subscription_secret = subscription_secret(state, &r.id).await?;
    }
    let integration = row
        .as_ref()
        .map(|r| Integration::new(&r.id, r.config_pairs()));
    let outcome = state
        .webhooks
        .warm()
        .webhook(&state.runtime, provider, integration, &req)
        .await?;
    if !outcome.verified {
        // The reason, never the secret or the body.
        tracing::warn!(provider, integration = ?integration_id, reason = "signature did not verify",
            "webhook refused");
        return Err(ApiError::InvalidSignature);
    }
    let work = DeliveryWork {
        upserts: ids(&outcome.changes, true),
        deletes: ids(&outcome.changes, false),
        sync: outcome.sync_requested,
    };
    let mut answer_body = WebhookAnswer {
        received: true,
        delivery: None,
        duplicate: None,
    };
    let mut label = "accepted";
    if work != DeliveryWork::default() {
        let id = crate::db::ordered_id();
        let delivery = NewDelivery {
            id: id.clone(),
            provider: provider.to_string(),
            integration_id: row.map(|r| r.id),
            account_id: outcome.account_id.clone(),
            // The plugin knows where its provider puts the id (Slack `event_id` in the
            // body); the documented headers are the fallback for 0.1.0 plugins.
            delivery_id: outcome
                .delivery_id
                .clone()
                .or_else(|| crate::webhooks::delivery_id_from_headers(&req.headers))
                .map(bounded),
            work,
        };
        match state.webhooks.record(delivery).await {
            Ok(Recorded::New) => answer_body.delivery = Some(id),
            Ok(Recorded::Duplicate) => {
                answer_body.duplicate = Some(true);
                label = "duplicate";
            }
            // No 2xx: the provider delivers again later. The cause goes to our log only.
            Err(e) => {
                tracing::error!(provider, error = %format!("{e:#}"), "webhook delivery not recorded");
                return Err(ApiError::Unavailable(
                    "the delivery could not be recorded; deliver it again".into(),
                ));
            }
        }
    }
    let response = match outcome.response {
        Some(r) => answer(r.status, &r.headers, r.body),
        None => Json(answer_body).into_response(),
    };
    Ok((response, label))
}

/// The integration's subscription secret, opened; none before its first subscription.
async fn subscription_secret(
    state: &AppState,
    integration_id: &str,
) -> Result<Option<String>, ApiError> {
    let Some(sealed) = state.webhooks.subscription_secret(integration_id).await? else {
        return Ok(None);
    };
    match crate::webhooks::open_secret(&state.keyring, integration_id, &sealed) {
        Ok(secret) => Ok(Some(secret)),
        // A key gone from the keyring: the plugin cannot verify and answers 401.
        Err(e) => {
            tracing::error!(integration = integration_id, error = %format!("{e:#}"),
                "the subscription secret does not open");
            Ok(None)
        }
    }
}

fn ids(changes: &[Change], upserts: bool) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match (c, upserts) {
            (Change::Upsert(id), true) | (Change::Delete(id), false) => Some(id.clone()),
            _ => None,
        })
        .collect()
}

/// A delivery id is the provider's (hostile) text: a long one is kept as its hash.
fn bounded(id: String) -> String {
    if id.len() <= 200 {
        id
    } else {
        format!("sha256:{}", crate::runtime::sha256_hex(id.as_bytes()))
    }
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
