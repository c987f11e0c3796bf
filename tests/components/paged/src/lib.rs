//! A provider over a paginated JSON API with versions, for the sync-engine tests (logic
//! in `api.rs`), with per-integration webhooks signed like GitHub's: HMAC-SHA256 of the
//! body under the `webhook_secret` app secret in `X-Hub-Signature-256`.

mod api;

use serde::Deserialize;
use tributary_sdk::prelude::*;
use tributary_sdk::{Capabilities, FieldKind, WebhookResponse, WebhookRouting, signature};

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
                subscribe: false,
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

tributary_sdk::export!(Paged);
