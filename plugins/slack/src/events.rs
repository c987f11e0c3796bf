//! The Events API: one app-level Request URL (the host's per-app webhook) for every
//! workspace. A call is genuine when `X-Slack-Signature` is `v0=` HMAC-SHA256 of
//! `v0:{X-Slack-Request-Timestamp}:{raw body}` under the app's signing secret and the
//! timestamp is within five minutes. `url_verification` is answered with its challenge;
//! an `event_callback` is routed by `team_id` and deduplicated by `event_id` (Slack
//! retries with `X-Slack-Retry-Num` when an answer is slow or fails).

use serde_json::Value;
use tributary_sdk::prelude::*;
use tributary_sdk::signature::{SLACK_MAX_SKEW_SECS, header, verify_slack};
use tributary_sdk::{Change, WebhookResponse};

/// Verify and read one Events API call.
pub fn delivery(req: &WebhookRequest) -> Result<WebhookOutcome, Error> {
    let Some(secret) = secrets::get("signing_secret")? else {
        log::warn("Slack event refused: the admin has not set the `signing_secret` secret");
        return Ok(WebhookOutcome::rejected());
    };
    let ts = header(&req.headers, "x-slack-request-timestamp").unwrap_or("");
    let sig = header(&req.headers, "x-slack-signature").unwrap_or("");
    let now = time::now_millis() / 1000;
    if !verify_slack(
        secret.as_bytes(),
        ts,
        &req.body,
        sig,
        now,
        SLACK_MAX_SKEW_SECS,
    ) {
        return Ok(WebhookOutcome::rejected());
    }
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| Error::invalid_input(format!("not an Events API body: {e}")))?;
    match body["type"].as_str() {
        Some("url_verification") => {
            let challenge = body["challenge"].as_str().unwrap_or("");
            let mut outcome = WebhookOutcome::changes(Vec::new());
            outcome.response = Some(WebhookResponse {
                status: 200,
                headers: vec![("Content-Type".into(), "text/plain".into())],
                body: challenge.as_bytes().to_vec(),
            });
            Ok(outcome)
        }
        Some("event_callback") => Ok(callback(&body)),
        Some("app_rate_limited") => {
            log::warn(
                "Slack stopped sending events for a minute (app_rate_limited): walks catch up",
            );
            Ok(WebhookOutcome::changes(Vec::new()))
        }
        other => Err(Error::invalid_input(format!(
            "unknown Events API type {other:?}"
        ))),
    }
}

fn callback(body: &Value) -> WebhookOutcome {
    let event = &body["event"];
    let mut outcome = WebhookOutcome::changes(changes(event));
    if let Some(id) = body["event_id"].as_str() {
        outcome = outcome.delivery(id);
    }
    outcome.account_id = body["team_id"].as_str().map(str::to_string);
    outcome.sync_requested = matches!(
        event["type"].as_str(),
        Some(
            "channel_rename"
                | "channel_archive"
                | "channel_unarchive"
                | "channel_created"
                | "group_rename"
                | "group_archive"
                | "group_unarchive"
        )
    );
    outcome
}

/// What one event changes: the thread (or lone message) it touches, by resource id.
pub fn changes(event: &Value) -> Vec<Change> {
    if event["type"].as_str() != Some("message") {
        return Vec::new();
    }
    let Some(channel) = event["channel"].as_str() else {
        return Vec::new();
    };
    let root = |m: &Value| -> Option<String> {
        m["thread_ts"]
            .as_str()
            .or_else(|| m["ts"].as_str())
            .map(|ts| format!("{channel}/{ts}"))
    };
    match event["subtype"].as_str() {
        Some("message_changed") => root(&event["message"])
            .map(Change::Upsert)
            .into_iter()
            .collect(),
        Some("message_deleted") => {
            let Some(deleted) = event["deleted_ts"].as_str() else {
                return Vec::new();
            };
            match event["previous_message"]["thread_ts"].as_str() {
                // A reply went: its thread changed.
                Some(thread) if thread != deleted => {
                    vec![Change::Upsert(format!("{channel}/{thread}"))]
                }
                _ => vec![Change::Delete(format!("{channel}/{deleted}"))],
            }
        }
        Some("message_replied") => root(&event["message"])
            .map(Change::Upsert)
            .into_iter()
            .collect(),
        Some(sub) if crate::render::is_noise(Some(sub)) => Vec::new(),
        _ => root(event).map(Change::Upsert).into_iter().collect(),
    }
}
