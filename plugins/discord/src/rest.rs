//! Discord's REST API v10: the bot's requests (`Authorization: Bot <token>`, the app's
//! `bot_token` secret) and the user's (the connection's OAuth token, injected by the
//! host), per-route rate-limit buckets honoured from the headers before Discord has to
//! answer 429, and `{"message", "code"}` errors mapped to typed errors.

use std::collections::HashMap;

use serde_json::Value;
use tributary_sdk::http::{Request, Response};
use tributary_sdk::prelude::*;

/// The API root.
pub const API: &str = "https://discord.com/api/v10";
/// Discord's host.
pub const HOST: &str = "discord.com";

/// Added to a bucket's announced refill time.
const BUCKET_MARGIN_MS: i64 = 20;

/// Who a request acts as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum As {
    /// The app's bot: reads guild channels it was added to.
    Bot,
    /// The connected person: who they are and which guilds they are in.
    User,
}

/// Buckets seen in this job: route → bucket id, bucket+major → time it refills.
#[derive(Default)]
pub struct Buckets {
    route: HashMap<String, String>,
    empty_until: HashMap<String, i64>,
}

/// A route's key and its major parameter (`channels/123/messages` → `channels/{}/messages`
/// and `123`): Discord limits per bucket and per major resource.
fn route(path: &str) -> (String, String) {
    let parts: Vec<&str> = path.split('?').next().unwrap_or("").split('/').collect();
    let mut major = String::new();
    let shape: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let id = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            if id && i > 0 && major.is_empty() && matches!(parts[i - 1], "channels" | "guilds") {
                major = p.to_string();
            }
            if id { "{}".to_string() } else { p.to_string() }
        })
        .collect();
    (shape.join("/"), major)
}

impl Buckets {
    /// GET `path` (below the API root) as `who`; the JSON body.
    pub fn get(&mut self, who: As, path: &str) -> Result<Value, Error> {
        let (shape, major) = route(path);
        let now = time::now_millis();
        if let Some(bucket) = self.route.get(&shape)
            && let Some(until) = self.empty_until.get(&format!("{bucket}:{major}"))
            && *until > now
        {
            // The last answer said this bucket is empty: wait instead of earning a 429.
            return Err(Error::rate_limited(
                Some((*until - now) as u64),
                format!("Discord bucket of {shape} is empty"),
            ));
        }
        let mut req = Request::get(format!("{API}/{path}"));
        req = match who {
            As::User => req.authenticated(),
            As::Bot => req.header("Authorization", format!("Bot {}", bot_token()?)),
        };
        let resp = req.send()?;
        // Timed from the answer, not the request: the bucket refills after Discord said.
        self.learn(&shape, &major, &resp, time::now_millis());
        check(who, resp)?.json()
    }

    fn learn(&mut self, shape: &str, major: &str, resp: &Response, now: i64) {
        let Some(bucket) = resp.header("x-ratelimit-bucket") else {
            return;
        };
        self.route.insert(shape.to_string(), bucket.to_string());
        let remaining = resp.header("x-ratelimit-remaining").map(str::trim);
        let after = resp
            .header("x-ratelimit-reset-after")
            .and_then(|v| v.trim().parse::<f64>().ok());
        let key = format!("{bucket}:{major}");
        match (remaining, after) {
            (Some("0"), Some(secs)) => {
                // Discord rounds to milliseconds; a little more keeps clear of its edge.
                let wait = (secs * 1000.0).ceil() as i64 + BUCKET_MARGIN_MS;
                self.empty_until.insert(key, now + wait);
            }
            _ => {
                self.empty_until.remove(&key);
            }
        }
    }
}

/// The app's bot token, set by an admin.
fn bot_token() -> Result<String, Error> {
    secrets::get("bot_token")?.ok_or_else(|| {
        Error::invalid_config("an admin must set the Discord app's `bot_token` secret")
    })
}

/// Map an answer to a typed error; 2xx passes.
pub fn check(who: As, resp: Response) -> Result<Response, Error> {
    let status = resp.status();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    let body: Value = serde_json::from_slice(resp.bytes()).unwrap_or(Value::Null);
    let message = body["message"].as_str().unwrap_or("").to_string();
    let code = body["code"].as_i64().unwrap_or(0);
    let msg = format!("Discord HTTP {status} (code {code}): {message}");
    Err(match status {
        429 => {
            // The body's `retry_after` is exact (seconds, fractional); the header rounds.
            let wait = body["retry_after"]
                .as_f64()
                .map(|s| (s * 1000.0).ceil() as u64)
                .or_else(|| resp.retry_after_ms());
            let scope = if body["global"].as_bool() == Some(true) {
                "global"
            } else {
                resp.header("x-ratelimit-scope").unwrap_or("route")
            };
            Error::rate_limited(wait, format!("{msg} ({scope} limit)"))
        }
        401 if who == As::Bot => Error::invalid_config(format!(
            "{msg}: the app's `bot_token` was refused; an admin must set a valid one"
        )),
        401 => Error::unauthorized(msg),
        403 => Error::Forbidden(msg),
        404 => Error::not_found(msg),
        500..=599 => Error::transient(msg),
        _ => Error::other(msg),
    })
}

/// A snowflake's time (ms since the epoch): its top 42 bits after Discord's epoch.
pub fn snowflake_millis(id: &str) -> Option<i64> {
    let n: u64 = id.parse().ok()?;
    Some(((n >> 22) + 1_420_070_400_000) as i64)
}

/// Whether snowflake `a` is later than `b`.
pub fn later(a: &str, b: &str) -> bool {
    a.parse::<u64>().unwrap_or(0) > b.parse::<u64>().unwrap_or(0)
}
