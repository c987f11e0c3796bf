//! Google push notification channels, as Drive (`changes.watch`) and Calendar
//! (`events.watch`) use them: a channel is created with our callback address and a token,
//! cannot be renewed in place (a new channel replaces it before it expires), and is
//! removed with `channels.stop`. A notification carries no change data and no signature:
//! it is genuine when `X-Goog-Channel-Token` equals the subscription's secret, and it
//! only says "something changed" (the plugin's incremental walk finds out what).

use serde::Deserialize;
use serde_json::{Value, json};
use tributary_sdk::http::Request;
use tributary_sdk::signature::{header, verify_token};
use tributary_sdk::{Error, Subscription, WebhookOutcome, WebhookRequest};

/// A new channel id (at most 64 characters, as Google asks): unique for each `salt` (the
/// time, a calendar's index), and telling nothing about the secret it is derived from.
///
/// ```
/// let a = tributary_google::channel::new_id("s3cret", "1700000000000/0");
/// assert!(a.starts_with("tributary-") && a.len() <= 64);
/// assert_ne!(a, tributary_google::channel::new_id("s3cret", "1700000000000/1"));
/// ```
pub fn new_id(secret: &str, salt: &str) -> String {
    let tag = tributary_sdk::signature::hmac_sha256(secret.as_bytes(), salt.as_bytes());
    let hex: String = tag[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("tributary-{hex}")
}

/// The request body of a `watch` call: a `web_hook` channel to `address` whose
/// notifications carry `token`, asked to live until `expiration` (ms), when given.
///
/// ```
/// let b = tributary_google::channel::watch_body("ch-1", "https://t.example/hook", "s3cret", Some(1_700_000_000_000));
/// assert_eq!(b["type"], "web_hook");
/// assert_eq!(b["expiration"], "1700000000000");
/// ```
pub fn watch_body(id: &str, address: &str, token: &str, expiration: Option<i64>) -> Value {
    let mut body = json!({ "id": id, "type": "web_hook", "address": address, "token": token });
    if let Some(ms) = expiration {
        // The reference types it as int64, which Google's JSON carries as a string.
        body["expiration"] = Value::String(ms.to_string());
    }
    body
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Channel {
    id: String,
    resource_id: Option<String>,
    expiration: Option<Value>,
}

/// The subscription a `watch` answer describes (`expiration` comes as a number in the
/// reference and as a string in real answers: both are read).
///
/// ```
/// let s = tributary_google::channel::parse_channel(br#"{"kind":"api#channel","id":"ch-1",
///     "resourceId":"r-9","resourceUri":"https://x","expiration":"1426325213000"}"#).unwrap();
/// assert_eq!(s.expires_at, Some(1426325213000));
/// assert_eq!(s.resource.as_deref(), Some("r-9"));
/// ```
pub fn parse_channel(body: &[u8]) -> Result<Subscription, Error> {
    let c: Channel = serde_json::from_slice(body)
        .map_err(|e| Error::invalid_input(format!("not a channel: {e}")))?;
    let expires_at = match c.expiration {
        Some(Value::String(s)) => s.parse().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    };
    Ok(Subscription {
        id: c.id,
        expires_at,
        resource: c.resource_id,
    })
}

/// Stop a channel with `channels.stop` under `api_base` (for example
/// `https://www.googleapis.com/drive/v3`). A channel Google no longer knows (404) is
/// already stopped.
pub fn stop(api_base: &str, sub: &Subscription) -> Result<(), Error> {
    let resp = Request::post(format!("{api_base}/channels/stop"))
        .json(&json!({ "id": sub.id, "resourceId": sub.resource }))
        .authenticated()
        .send()?;
    if resp.status() == 404 {
        return Ok(());
    }
    crate::check(resp).map(|_| ())
}

/// Interpret a notification: rejected unless its channel token is the subscription's
/// secret; the first message of a channel (`sync`) is acknowledged with no work; any
/// other state asks for an incremental walk. The delivery id is the channel id and
/// message number, which Google repeats when it retries.
///
/// ```
/// use tributary_sdk::WebhookRequest;
/// let req = |state: &str, token: &str| WebhookRequest {
///     method: "POST".into(), path: String::new(), query: String::new(), body: vec![],
///     headers: vec![("X-Goog-Channel-ID".into(), "ch-1".into()),
///         ("X-Goog-Channel-Token".into(), token.into()),
///         ("X-Goog-Message-Number".into(), "2".into()),
///         ("X-Goog-Resource-State".into(), state.into())],
///     subscription_secret: Some("s3cret".into()),
/// };
/// let o = tributary_google::channel::notification(&req("change", "s3cret"));
/// assert!(o.verified && o.sync_requested);
/// assert_eq!(o.delivery_id.as_deref(), Some("ch-1:2"));
/// assert!(!tributary_google::channel::notification(&req("sync", "s3cret")).sync_requested);
/// assert!(!tributary_google::channel::notification(&req("change", "guess")).verified);
/// ```
pub fn notification(req: &WebhookRequest) -> WebhookOutcome {
    let given = header(&req.headers, "x-goog-channel-token").unwrap_or("");
    let genuine = req
        .subscription_secret
        .as_deref()
        .is_some_and(|secret| verify_token(secret, given));
    let channel = header(&req.headers, "x-goog-channel-id");
    let number = header(&req.headers, "x-goog-message-number");
    let (Some(channel), Some(number), true) = (channel, number, genuine) else {
        return WebhookOutcome::rejected();
    };
    let mut outcome = WebhookOutcome::changes(Vec::new()).delivery(format!("{channel}:{number}"));
    let state = header(&req.headers, "x-goog-resource-state").unwrap_or("");
    outcome.sync_requested = !state.eq_ignore_ascii_case("sync");
    outcome
}
