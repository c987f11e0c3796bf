//! Gmail push: `users.watch` publishes "the mailbox changed up to historyId" to the app's
//! Cloud Pub/Sub topic, and a push subscription POSTs it to the host's per-app webhook.
//! The body is Pub/Sub's envelope: `{"message": {"data": base64 of {"emailAddress",
//! "historyId"}, "messageId", "publishTime"}, "subscription"}`. Pub/Sub does not sign
//! bodies; a delivery is genuine when the push URL carries the app's token (the
//! `push_token` secret, compared in constant time) and, when the admin set
//! `push_audience`, when its `Authorization: Bearer` OIDC token is Google's (see `oidc`).

use serde::Deserialize;
use serde_json::Value;
use tributary_sdk::prelude::*;
use tributary_sdk::signature::{header, verify_token};

use crate::message::decode_b64;
use crate::oidc;

#[derive(Deserialize)]
struct Envelope {
    message: PubsubMessage,
    #[serde(default)]
    subscription: Option<String>,
}

#[derive(Deserialize)]
struct PubsubMessage {
    #[serde(default)]
    data: Option<String>,
    #[serde(default, rename = "messageId")]
    message_id: Option<String>,
    /// Pub/Sub sends both spellings.
    #[serde(default, rename = "message_id")]
    message_id_snake: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    email_address: String,
    /// A string in Google's example, a number in some live deliveries.
    #[serde(default)]
    history_id: Option<Value>,
}

/// The value of `name` in a query string (no percent-decoding: tokens are URL-safe).
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Verify and read one push delivery.
pub fn delivery(req: &WebhookRequest) -> Result<WebhookOutcome, Error> {
    let Some(token) = secrets::get("push_token")? else {
        // Without a token nobody can be told apart from Google: refuse everything.
        log::warn("Gmail push refused: the admin has not set the `push_token` secret");
        return Ok(WebhookOutcome::rejected());
    };
    if !verify_token(&token, query_param(&req.query, "token").unwrap_or("")) {
        return Ok(WebhookOutcome::rejected());
    }
    if let Some(audience) = secrets::get("push_audience")? {
        let bearer = header(&req.headers, "authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let account = secrets::get("push_service_account")?;
        if let Err(why) = oidc::verify(bearer, &audience, account.as_deref()) {
            log::warn(&format!("Gmail push refused: {why}"));
            return Ok(WebhookOutcome::rejected());
        }
    }
    let envelope: Envelope = serde_json::from_slice(&req.body)
        .map_err(|e| Error::invalid_input(format!("not a Pub/Sub push body: {e}")))?;
    if let (Some(expected), Some(given)) = (
        secrets::get("push_subscription")?,
        envelope.subscription.as_deref(),
    ) && expected != given
    {
        return Ok(WebhookOutcome::rejected());
    }
    let data = envelope
        .message
        .data
        .as_deref()
        .and_then(decode_b64)
        .ok_or_else(|| Error::invalid_input("the push message carries no base64 data"))?;
    let n: Notification = serde_json::from_slice(&data)
        .map_err(|e| Error::invalid_input(format!("not a Gmail notification: {e}")))?;
    let mut outcome = WebhookOutcome::changes(Vec::new());
    if let Some(id) = envelope
        .message
        .message_id
        .or(envelope.message.message_id_snake)
    {
        outcome = outcome.delivery(id);
    }
    outcome.account_id = Some(n.email_address.to_ascii_lowercase());
    // "Something changed up to historyId": the walk reads history from the last id.
    outcome.sync_requested = n.history_id.is_some();
    Ok(outcome)
}
