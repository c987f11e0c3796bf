//! A provider over a paginated JSON API with versions, for the sync-engine tests (logic
//! in `api.rs`), with per-integration webhooks signed like GitHub's: HMAC-SHA256 of the
//! body under the `webhook_secret` app secret in `X-Hub-Signature-256`.

mod api;

use serde::Deserialize;
use tributary_sdk::prelude::*;
use tributary_sdk::{
    Capabilities, FieldKind, Subscription, WebhookResponse, WebhookRouting, signature,
};

struct Paged;

#[derive(Deserialize)]
struct Hook {
    #[serde(default)]
    changed: Vec<String>,
    #[serde(default)]
    deleted: Vec<String>,
    #[serde(default)]
    sync: bool,
    /// A handshake the provider expects echoed right away.
    challenge: Option<String>,
}

impl Provider for Paged {
    fn manifest() -> Manifest {
        ManifestBuilder::new("paged", "Paged")
            .capabilities(Capabilities {
                pull: true,
                incremental: true,
                webhooks: true,
                subscribe: true,
            })
            .rate_limits(1_000_000, None, 4)
            .allowed_host("api.paged.test")
            .field("collection", "Collection", FieldKind::Text, false)
            .webhook(WebhookRouting::PerIntegration)
            .build()
    }

    fn list(config: &Config, req: ListRequest) -> Result<Page, Error> {
        api::list(config, req)
    }

    fn fetch(config: &Config, id: &str) -> Result<Content, Error> {
        api::fetch(config, id)
    }

    fn subscribe(_config: &Config, callback_url: &str) -> Result<Subscription, Error> {
        register_hook(callback_url)
    }

    fn unsubscribe(_config: &Config, id: &str) -> Result<(), Error> {
        remove_hook(id)
    }

    fn webhook(_config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        let secret = secrets::get("webhook_secret")?
            .ok_or_else(|| Error::invalid_config("no webhook_secret is configured"))?;
        let given = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-hub-signature-256"))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        if !signature::verify_hmac_sha256_hex(secret.as_bytes(), &req.body, given, "sha256=") {
            return Ok(WebhookOutcome::rejected());
        }
        let hook: Hook = serde_json::from_slice(&req.body)
            .map_err(|e| Error::invalid_input(format!("webhook body: {e}")))?;
        let mut changes: Vec<Change> = hook.changed.into_iter().map(Change::Upsert).collect();
        changes.extend(hook.deleted.into_iter().map(Change::Delete));
        let mut outcome = WebhookOutcome::changes(changes);
        outcome.sync_requested = hook.sync;
        outcome.response = hook.challenge.map(|c| WebhookResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: c.into_bytes(),
        });
        Ok(outcome)
    }
}

#[derive(serde::Serialize)]
struct NewHook<'a> {
    url: &'a str,
}

#[derive(serde::Deserialize)]
struct Registered {
    id: String,
    expires: Option<i64>,
}

/// Register a hook that calls `callback_url`; it expires when the API says.
fn register_hook(callback_url: &str) -> Result<Subscription, Error> {
    let hook: Registered = http::Request::post(format!("{}/hooks", api::API))
        .json(&NewHook { url: callback_url })
        .send()?
        .error_for_status()?
        .json()?;
    Ok(Subscription {
        id: hook.id,
        expires_at: hook.expires,
    })
}

/// Remove a hook.
fn remove_hook(id: &str) -> Result<(), Error> {
    http::Request::new(http::Method::Delete, format!("{}/hooks/{id}", api::API))
        .send()?
        .error_for_status()?;
    Ok(())
}

tributary_sdk::export!(Paged);
