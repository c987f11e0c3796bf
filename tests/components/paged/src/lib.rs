//! A provider over a paginated JSON API with versions, for the sync-engine tests (logic
//! in `api.rs`), with per-integration webhooks signed like GitHub's: HMAC-SHA256 of the
//! body under the `webhook_secret` app secret in `X-Hub-Signature-256`.

mod api;

use serde::Deserialize;
use tributary_sdk::prelude::*;
use tributary_sdk::{
    Capabilities, FieldKind, Subscription, WebhookResponse, WebhookRouting, signature,
};

#[derive(Default)]
struct Paged;

/// Input of the `create_item` action.
const CREATE_ITEM_SCHEMA: &str = r#"{
  "type": "object",
  "required": ["title", "body"],
  "additionalProperties": false,
  "properties": {
    "title": {"type": "string", "minLength": 1, "maxLength": 200},
    "body": {"type": "string"}
  }
}"#;

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
    /// The delivery's id in the body (Slack `event_id` style).
    event_id: Option<String>,
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
            .action(
                "create_item",
                "Create an item",
                "Adds an item to the API (a write, run only on an explicit API call)",
                CREATE_ITEM_SCHEMA,
            )
            .build()
    }

    fn run_action(
        &mut self,
        _config: &Config,
        name: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        match name {
            "create_item" => {
                let created: serde_json::Value = http::Request::post(format!("{}/items", api::API))
                    .json(&input)
                    .send()?
                    .error_for_status()?
                    .json()?;
                Ok(serde_json::json!({ "id": created["id"] }))
            }
            other => Err(Error::not_found(format!("no action `{other}`"))),
        }
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        api::list(config, req)
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        api::fetch(config, id)
    }

    fn subscribe(
        &mut self,
        _config: &Config,
        callback_url: &str,
        secret: &str,
    ) -> Result<Subscription, Error> {
        register_hook(callback_url, secret)
    }

    fn unsubscribe(&mut self, _config: &Config, subscription: &Subscription) -> Result<(), Error> {
        remove_hook(&subscription.id)
    }

    fn webhook(&mut self, _config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        let given = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-hub-signature-256"))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        // Hooks registered by `subscribe` sign with their own secret (GitHub repo hooks);
        // calls from before that sign with the app's.
        let by_hook = req.subscription_secret.as_deref().is_some_and(|s| {
            signature::verify_hmac_sha256_hex(s.as_bytes(), &req.body, given, "sha256=")
        });
        let by_app = match secrets::get("webhook_secret")? {
            Some(s) => signature::verify_hmac_sha256_hex(s.as_bytes(), &req.body, given, "sha256="),
            None => false,
        };
        if !by_hook && !by_app {
            return Ok(WebhookOutcome::rejected());
        }
        let hook: Hook = serde_json::from_slice(&req.body)
            .map_err(|e| Error::invalid_input(format!("webhook body: {e}")))?;
        let mut changes: Vec<Change> = hook.changed.into_iter().map(Change::Upsert).collect();
        changes.extend(hook.deleted.into_iter().map(Change::Delete));
        let mut outcome = WebhookOutcome::changes(changes);
        outcome.sync_requested = hook.sync;
        outcome.delivery_id = hook.event_id;
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
    secret: &'a str,
}

#[derive(serde::Deserialize)]
struct Registered {
    id: String,
    expires: Option<i64>,
}

/// Register a hook that calls `callback_url`; it expires when the API says.
fn register_hook(callback_url: &str, secret: &str) -> Result<Subscription, Error> {
    let hook: Registered = http::Request::post(format!("{}/hooks", api::API))
        .json(&NewHook {
            url: callback_url,
            secret,
        })
        .send()?
        .error_for_status()?
        .json()?;
    Ok(Subscription {
        id: hook.id,
        expires_at: hook.expires,
        resource: None,
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
