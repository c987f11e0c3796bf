//! GitLab's REST API v4 on gitlab.com or a self-managed instance (config `base_url`, or
//! an admin's base-URL override of `https://gitlab.com`), and its answers turned into
//! typed errors: `{"message": …}` or `{"error": …}` bodies, 429 with `Retry-After`
//! (plain-text `Retry later`), `RateLimit-Remaining: 0`.

use serde_json::Value;
use tributary_sdk::http::{Method, Request, Response};
use tributary_sdk::prelude::*;
use tributary_sdk::url::encode;

/// gitlab.com.
pub const CLOUD: &str = "https://gitlab.com";
/// gitlab.com's host.
pub const HOST: &str = "gitlab.com";

/// The API root of this integration: `<base_url>/api/v4`.
pub fn base(config: &Config) -> String {
    let root = config
        .get("base_url")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(CLOUD)
        .trim_end_matches('/');
    format!("{root}/api/v4")
}

/// `<api>/projects/<url-encoded path or id>`.
pub fn project(base: &str, project: &str) -> String {
    format!("{base}/projects/{}", encode(project))
}

/// An authenticated request.
pub fn request(method: Method, url: &str) -> Request {
    Request::new(method, url)
        .header("Accept", "application/json")
        .authenticated()
}

/// GET `url`, conditional on the ETag kept under `cache` when given.
pub fn get(url: &str, cache: Option<&str>) -> Result<Response, Error> {
    let req = request(Method::Get, url);
    check(match cache {
        Some(key) => req.send_cached(key)?,
        None => req.send()?,
    })
}

/// GET `url` as JSON.
pub fn get_json(url: &str, cache: Option<&str>) -> Result<Value, Error> {
    get(url, cache)?.json()
}

/// Every item of a paged listing (`X-Next-Page` or `Link`), at most `max_pages` pages.
pub fn all_pages(first: &str, max_pages: usize) -> Result<Vec<Value>, Error> {
    tributary_forge::all_pages(first, max_pages, |u| get(u, None))
}

/// Typed errors for GitLab's answers.
pub fn check(resp: Response) -> Result<Response, Error> {
    let status = resp.status();
    if status < 400 {
        return Ok(resp);
    }
    let body: Value = serde_json::from_slice(resp.bytes()).unwrap_or(Value::Null);
    let detail = match (&body["message"], &body["error"]) {
        (Value::String(m), _) => m.clone(),
        (m @ Value::Object(_), _) => m.to_string(),
        (_, Value::String(e)) => e.clone(),
        _ => resp.text().chars().take(200).collect(),
    };
    let msg = format!("GitLab {status}: {detail}");
    match status {
        401 => Err(Error::unauthorized(msg)),
        403 if resp.budget_exhausted() => Err(Error::rate_limited(resp.retry_after_ms(), msg)),
        403 => Err(Error::Forbidden(msg)),
        404 => Err(Error::not_found(msg)),
        429 => Err(Error::rate_limited(resp.retry_after_ms(), msg)),
        500..=599 => Err(Error::transient(msg)),
        _ => Err(Error::other(msg)),
    }
}

/// An ISO 8601 time of GitLab's in milliseconds.
pub fn millis(v: &Value) -> Option<i64> {
    v.as_str().and_then(tributary_sdk::time::parse_millis)
}
