//! Slack's Web API: `GET https://slack.com/api/<method>` with the user token, and its
//! answers turned into typed errors. Slack reports most failures as `200 {"ok": false,
//! "error": "<code>"}`; only rate limits come as a real `429` with `Retry-After`.

use serde_json::Value;
use tributary_sdk::http::{Request, Response};
use tributary_sdk::prelude::*;
use tributary_sdk::{tokens, url};

/// The Web API root.
pub const API: &str = "https://slack.com/api";
/// Slack's API and OAuth host.
pub const HOST: &str = "slack.com";

/// Call a read method with query parameters; the `ok: true` body. A rotating token
/// that expired is refreshed once and the call repeated: Slack says so with a `200`
/// (`token_expired`), which the host's own refresh-on-401 cannot see.
pub fn call(method: &str, query: &[(&str, &str)]) -> Result<Value, Error> {
    let href = url::build(API, &[method], query);
    match parse(method, Request::get(href.clone()).authenticated().send()?) {
        Err(Error::Unauthorized(why)) if why.ends_with(": token_expired") => {
            tokens::refresh()?;
            parse(method, Request::get(href).authenticated().send()?)
        }
        other => other,
    }
}

/// Read one answer of `method`.
pub fn parse(method: &str, resp: Response) -> Result<Value, Error> {
    match resp.status() {
        200 => {}
        429 => {
            return Err(Error::rate_limited(
                resp.retry_after_ms(),
                format!("Slack rate-limited {method} (HTTP 429)"),
            ));
        }
        _ => {
            resp.error_for_status()?;
            return Err(Error::other(format!(
                "Slack answered {method} with an unexpected status"
            )));
        }
    }
    let body: Value = resp.json()?;
    if body.get("ok") == Some(&Value::Bool(true)) {
        return Ok(body);
    }
    let code = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("unknown_error");
    Err(error(method, code, &body))
}

/// The typed error for an `ok: false` answer (the codes of the method references).
pub fn error(method: &str, code: &str, body: &Value) -> Error {
    let msg = format!("Slack {method}: {code}");
    match code {
        // The token is dead or was never good: the host refreshes or asks to reconnect.
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive"
        | "org_login_required" | "ekm_access_denied" => Error::unauthorized(msg),
        "missing_scope" => {
            let needed = body.get("needed").and_then(Value::as_str).unwrap_or("?");
            Error::Forbidden(format!("{msg} (needs `{needed}`: reconnect to grant it)"))
        }
        "no_permission" | "access_denied" | "team_access_not_granted" => Error::Forbidden(msg),
        "channel_not_found" | "not_in_channel" | "thread_not_found" | "message_not_found"
        | "user_not_found" => Error::not_found(msg),
        "ratelimited" | "rate_limited" => Error::rate_limited(None, msg),
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            Error::transient(msg)
        }
        "invalid_cursor" | "invalid_ts_latest" | "invalid_ts_oldest" | "invalid_arguments"
        | "invalid_limit" => Error::invalid_input(msg),
        _ => Error::other(msg),
    }
}

/// A Slack timestamp (`"1773301231.714899"`, seconds and microseconds) in ms.
///
/// Parsed as text: a float would lose the digits that make it the message's id.
pub fn ts_millis(ts: &str) -> Option<i64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let secs: i64 = secs.parse().ok()?;
    let ms: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    Some(secs * 1000 + ms)
}

/// Whether `a` is a later Slack timestamp than `b` (compared as numbers, exactly).
pub fn ts_after(a: &str, b: &str) -> bool {
    let key = |t: &str| {
        let (s, f) = t.split_once('.').unwrap_or((t, ""));
        (s.parse::<u64>().unwrap_or(0), format!("{f:0<6}"))
    };
    key(a) > key(b)
}

/// The next cursor of a paged answer (`""` or missing at the end).
pub fn next_cursor(body: &Value) -> Option<String> {
    tributary_sdk::paging::next_token(body, "/response_metadata/next_cursor")
}
