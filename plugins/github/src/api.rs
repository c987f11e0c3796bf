//! GitHub's REST API: the base URL (github.com, or a GitHub Enterprise Server's
//! `https://<host>/api/v3`), the headers every call carries, conditional requests, and
//! GitHub's answers turned into typed errors (primary limit: 403/429 with
//! `x-ratelimit-remaining: 0` until `x-ratelimit-reset`; secondary limits: 403/429 with
//! `retry-after`, or a message saying so and a minute's wait).

use serde_json::Value;
use tributary_sdk::http::{Method, Request, Response};
use tributary_sdk::prelude::*;

/// The cloud API.
pub const CLOUD: &str = "https://api.github.com";
/// The cloud API's host.
pub const HOST: &str = "api.github.com";
/// The REST API version this plugin speaks.
pub const VERSION: &str = "2022-11-28";
/// What GitHub asks to wait after a secondary limit that names no time.
const SECONDARY_WAIT_MS: u64 = 60_000;

/// The API root of this integration: config `api_url` (a GitHub Enterprise Server) or
/// the cloud.
pub fn base(config: &Config) -> String {
    match config
        .get("api_url")
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => CLOUD.to_string(),
    }
}

/// A request with GitHub's headers; authenticated.
pub fn request(method: Method, url: &str) -> Request {
    Request::new(method, url)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", VERSION)
        .header("User-Agent", "Tributary")
        .authenticated()
}

/// GET `url`, conditional on the ETag kept under `cache` when given (a 304 costs no
/// rate-limit budget at GitHub and is answered from the kept body).
pub fn get(url: &str, cache: Option<&str>) -> Result<Response, Error> {
    let req = request(Method::Get, url);
    let resp = match cache {
        Some(key) => req.send_cached(key)?,
        None => req.send()?,
    };
    check(resp)
}

/// GET `url` as JSON.
pub fn get_json(url: &str, cache: Option<&str>) -> Result<Value, Error> {
    get(url, cache)?.json()
}

/// GitHub's message from an error body (`{"message", "documentation_url"}`).
fn message(resp: &Response) -> String {
    let body: Value = serde_json::from_slice(resp.bytes()).unwrap_or(Value::Null);
    let msg = body["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| resp.text().chars().take(200).collect());
    format!("GitHub {}: {msg}", resp.status())
}

/// Typed errors for GitHub's answers.
pub fn check(resp: Response) -> Result<Response, Error> {
    let status = resp.status();
    if status < 400 {
        return Ok(resp);
    }
    let msg = message(&resp);
    if matches!(status, 403 | 429) {
        if resp.budget_exhausted() || resp.header("retry-after").is_some() {
            return Err(Error::rate_limited(resp.retry_after_ms(), msg));
        }
        if msg.to_ascii_lowercase().contains("secondary rate limit")
            || msg.to_ascii_lowercase().contains("abuse detection")
        {
            return Err(Error::rate_limited(Some(SECONDARY_WAIT_MS), msg));
        }
    }
    match status {
        401 => Err(Error::unauthorized(msg)),
        403 => Err(Error::Forbidden(msg)),
        // 404 also means "private and not yours"; 410 "issues are disabled".
        404 | 410 => Err(Error::not_found(msg)),
        429 => Err(Error::rate_limited(resp.retry_after_ms(), msg)),
        500..=599 => Err(Error::transient(msg)),
        _ => Err(Error::other(msg)),
    }
}

/// Every page of a listing, following `Link: rel="next"` verbatim (GitHub switches to
/// `/repositories/<id>/…` URLs); at most `max_pages`.
pub fn all_pages(first: &str, max_pages: usize) -> Result<Vec<Value>, Error> {
    tributary_forge::all_pages(first, max_pages, |u| get(u, None))
}

/// An ISO 8601 time of GitHub's (`2026-11-29T10:00:00Z`) in milliseconds.
pub fn millis(v: &Value) -> Option<i64> {
    v.as_str().and_then(tributary_sdk::time::parse_millis)
}
