//! A test provider shaped like Slack's Events API: one webhook address for the whole app
//! (per-app routing), requests signed `v0=` over `v0:{timestamp}:{body}` with the
//! `signing_secret` app secret and refused outside a five-minute window, a
//! `url_verification` handshake answered with its challenge, and `event_callback`
//! envelopes naming the workspace (`team_id`, the account) and one message.

use serde::Deserialize;
use tributary_sdk::prelude::*;
use tributary_sdk::signature::{self, SLACK_MAX_SKEW_SECS};
use tributary_sdk::{Capabilities, WebhookResponse, WebhookRouting};

#[derive(Default)]
struct Evented;

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    team_id: Option<String>,
    challenge: Option<String>,
    event: Option<Event>,
}

#[derive(Deserialize)]
struct Event {
    channel: String,
    ts: String,
    #[serde(default)]
    deleted: bool,
}

impl Provider for Evented {
    fn manifest() -> Manifest {
        ManifestBuilder::new("evented", "Evented")
            .capabilities(Capabilities {
                pull: true,
                incremental: false,
                webhooks: true,
                subscribe: false,
            })
            .allowed_host("api.evented.test")
            .webhook(WebhookRouting::PerApp)
            .build()
    }

    fn list(&mut self, _config: &Config, _req: ListRequest) -> Result<Page, Error> {
        Ok(Page::last(Vec::new()))
    }

    fn fetch(&mut self, _config: &Config, id: &str) -> Result<Content, Error> {
        Err(Error::not_found(id.to_string()))
    }

    fn webhook(&mut self, _config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        let secret = secrets::require("signing_secret")?;
        let ts = signature::header(&req.headers, "x-slack-request-timestamp").unwrap_or_default();
        let sig = signature::header(&req.headers, "x-slack-signature").unwrap_or_default();
        let now = time::now_millis() / 1000;
        if !signature::verify_slack(
            secret.as_bytes(),
            ts,
            &req.body,
            sig,
            now,
            SLACK_MAX_SKEW_SECS,
        ) {
            return Ok(WebhookOutcome::rejected());
        }
        let env: Envelope = serde_json::from_slice(&req.body)
            .map_err(|e| Error::invalid_input(format!("event body: {e}")))?;
        if env.kind == "url_verification" {
            let mut outcome = WebhookOutcome::changes(Vec::new());
            outcome.response = env.challenge.map(|c| WebhookResponse {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: c.into_bytes(),
            });
            return Ok(outcome);
        }
        let mut outcome = match env.event {
            Some(e) if e.deleted => {
                WebhookOutcome::changes(vec![Change::Delete(format!("{}:{}", e.channel, e.ts))])
            }
            Some(e) => {
                WebhookOutcome::changes(vec![Change::Upsert(format!("{}:{}", e.channel, e.ts))])
            }
            None => WebhookOutcome::changes(Vec::new()),
        };
        outcome.account_id = env.team_id;
        Ok(outcome)
    }
}

tributary_sdk::export!(Evented);
