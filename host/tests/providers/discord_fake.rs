//! Discord on loopback, from the API v10 reference: the bot (`Authorization: Bot …`) and
//! the person (`Bearer`, OAuth2) as two callers, `users/@me[/guilds]`,
//! `applications/@me`, guilds with roles and members, channels with permission
//! overwrites, messages newest first by `before` / `after` snowflakes (`limit` ≤ 100),
//! active and archived threads; every answer carries the per-route bucket headers, a
//! request into an empty bucket earns a 429 with `retry_after` (and is counted), errors
//! are `{"message", "code"}`. OAuth2: `/oauth2/authorize` approves at once,
//! `/api/oauth2/token` issues rotating refresh tokens.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "1504348286742564904";
pub const CLIENT_SECRET: &str = "dK3x-9Qw_fake-client-secret";
pub const BOT_TOKEN: &str = "MTUwNDM0ODI4Njc0MjU2NDkwNA.GxYzAb.bot-token-for-tests";
pub const BOT_ID: &str = "1504348286742564904";

#[derive(Default)]
pub struct Discord {
    /// The person's access token that works now.
    pub user_token: String,
    pub user: Value,
    /// Guild id → guild object (with `roles`, `owner_id`).
    pub guilds: BTreeMap<String, Value>,
    /// Guild id → member user ids → role ids.
    pub members: HashMap<String, HashMap<String, Vec<String>>>,
    /// Guilds the bot was added to.
    pub bot_in: Vec<String>,
    /// Guild id → channels (including threads, which carry `thread_metadata`).
    pub channels: BTreeMap<String, Vec<Value>>,
    /// Channel id → message id → message.
    pub messages: HashMap<String, BTreeMap<u64, Value>>,
    pub app_flags: u64,
    /// Requests allowed per bucket window on the messages route, and the window.
    pub bucket: (u32, Duration),
    pub windows: HashMap<String, (Instant, u32)>,
    /// Requests that arrived at an empty bucket (each answered 429).
    pub violations: usize,
    /// Answer the next request with a global 429.
    pub global_limit_next: usize,
    pub asked: Vec<String>,
    pub codes: HashMap<String, String>,
    pub refresh: Option<String>,
    pub refreshes: usize,
    pub n: usize,
}

pub type Shared = Arc<Mutex<Discord>>;

/// A snowflake for `ms` since the epoch and a sequence number.
pub fn snowflake(ms: u64, seq: u64) -> u64 {
    ((ms - 1_420_070_400_000) << 22) | (seq & 0xfff)
}

fn error(status: StatusCode, message: &str, code: u32) -> Response {
    (status, Json(json!({"message": message, "code": code}))).into_response()
}

impl Discord {
    pub fn message(&mut self, channel: &str, id: u64, author: &Value, content: &str, extra: Value) {
        let at = time_of(id);
        let mut m = json!({"type": 0, "content": content, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "timestamp": at, "edited_timestamp": null, "flags": 0,
            "components": [], "id": id.to_string(), "channel_id": channel, "author": author,
            "pinned": false, "mention_everyone": false, "tts": false});
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        self.messages
            .entry(channel.to_string())
            .or_default()
            .insert(id, m);
    }

    fn find_channel(&self, id: &str) -> Option<&Value> {
        self.channels
            .values()
            .flatten()
            .find(|c| c["id"].as_str() == Some(id))
    }

    /// Spend one request of `route`'s bucket for `major`: the headers to send, or none
    /// when the bucket was already empty.
    fn spend(&mut self, route: &str, major: &str) -> Option<Vec<(String, String)>> {
        let (limit, window) = if route == "messages" {
            self.bucket
        } else {
            (50, Duration::from_secs(1))
        };
        let now = Instant::now();
        let key = format!("{route}:{major}");
        let w = self.windows.entry(key).or_insert((now, 0));
        if now.duration_since(w.0) >= window {
            *w = (now, 0);
        }
        if w.1 >= limit {
            return None;
        }
        w.1 += 1;
        let left = window.saturating_sub(now.duration_since(w.0)).as_secs_f64();
        Some(vec![
            ("X-RateLimit-Limit".into(), limit.to_string()),
            ("X-RateLimit-Remaining".into(), (limit - w.1).to_string()),
            ("X-RateLimit-Reset-After".into(), format!("{left:.3}")),
            ("X-RateLimit-Bucket".into(), format!("b-{route}")),
        ])
    }
}

fn time_of(id: u64) -> String {
    let ms = (id >> 22) + 1_420_070_400_000;
    tributary_sdk::time::format_rfc3339(ms as i64).unwrap()
}

enum Caller {
    Bot,
    User,
}

fn caller(s: &Discord, headers: &HeaderMap) -> Option<Caller> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    if auth == format!("Bot {BOT_TOKEN}") {
        Some(Caller::Bot)
    } else if auth.strip_prefix("Bearer ") == Some(s.user_token.as_str())
        && !s.user_token.is_empty()
    {
        Some(Caller::User)
    } else {
        None
    }
}

async fn api(
    State(s): State<Shared>,
    Path(path): Path<String>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let mut s = s.lock().unwrap();
    let Some(who) = caller(&s, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "401: Unauthorized", 0);
    };
    if s.global_limit_next > 0 {
        s.global_limit_next -= 1;
        let body =
            json!({"message": "You are being rate limited.", "retry_after": 0.25, "global": true});
        let h = [
            ("Retry-After", "1"),
            ("X-RateLimit-Global", "true"),
            ("X-RateLimit-Scope", "global"),
        ];
        return (StatusCode::TOO_MANY_REQUESTS, h, Json(body)).into_response();
    }
    let parts: Vec<&str> = path.split('/').collect();
    let (route, major) = match parts.as_slice() {
        ["channels", c, "messages", ..] => ("messages", c.to_string()),
        [first, id, ..] => (*first, id.to_string()),
        _ => ("other", String::new()),
    };
    let Some(rl) = s.spend(route, &major) else {
        s.violations += 1;
        let body =
            json!({"message": "You are being rate limited.", "retry_after": 0.3, "global": false});
        let h = [
            ("Retry-After", "1"),
            ("X-RateLimit-Scope", "user"),
            ("X-RateLimit-Remaining", "0"),
        ];
        return (StatusCode::TOO_MANY_REQUESTS, h, Json(body)).into_response();
    };
    let limit: usize = p
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .min(100);
    let is_bot = matches!(who, Caller::Bot);
    let me = if is_bot {
        BOT_ID.to_string()
    } else {
        s.user["id"].as_str().unwrap().to_string()
    };
    let body: Result<Value, Response> = match parts.as_slice() {
        ["users", "@me"] if is_bot => {
            Ok(json!({"id": BOT_ID, "username": "RiverBot", "bot": true, "global_name": null}))
        }
        ["users", "@me"] => Ok(s.user.clone()),
        ["users", "@me", "guilds"] => {
            let after: u64 = p.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
            let mine: Vec<Value> = s
                .guilds
                .iter()
                .filter(|(id, _)| {
                    if is_bot { s.bot_in.contains(id) } else { s.members.get(*id).is_some_and(|m| m.contains_key(&me)) }
                })
                .filter(|(id, _)| id.parse::<u64>().unwrap() > after)
                .take(p.get("limit").and_then(|l| l.parse().ok()).unwrap_or(200))
                .map(|(id, g)| json!({"id": id, "name": g["name"], "icon": null, "banner": null,
                    "owner": g["owner_id"].as_str() == Some(&me), "permissions": "2248473465835073", "features": []}))
                .collect();
            Ok(json!(mine))
        }
        ["applications", "@me"] if is_bot => Ok(
            json!({"id": CLIENT_ID, "name": "Tributary", "flags": s.app_flags, "bot_public": false}),
        ),
        ["guilds", g, rest @ ..] if is_bot && s.bot_in.iter().any(|b| b == g) => match rest {
            [] => Ok(s.guilds[*g].clone()),
            ["members", u] => match s.members.get(*g).and_then(|m| m.get(*u)) {
                Some(roles) => Ok(
                    json!({"user": {"id": u}, "roles": roles, "nick": null, "joined_at": "2026-01-01T00:00:00+00:00"}),
                ),
                None => Err(error(StatusCode::NOT_FOUND, "Unknown Member", 10007)),
            },
            ["channels"] => Ok(json!(
                s.channels[*g]
                    .iter()
                    .filter(|c| c.get("thread_metadata").is_none())
                    .collect::<Vec<_>>()
            )),
            ["threads", "active"] => {
                let active: Vec<&Value> = s.channels[*g]
                    .iter()
                    .filter(|c| c["thread_metadata"]["archived"] == false)
                    .collect();
                Ok(json!({"threads": active, "members": []}))
            }
            _ => Err(error(StatusCode::NOT_FOUND, "404: Not Found", 0)),
        },
        ["guilds", ..] => Err(error(StatusCode::FORBIDDEN, "Missing Access", 50001)),
        ["channels", c] if is_bot => s
            .find_channel(c)
            .cloned()
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "Unknown Channel", 10003)),
        ["channels", c, "messages"] if is_bot => {
            let Some(all) = s.messages.get(*c) else {
                return error(StatusCode::NOT_FOUND, "Unknown Channel", 10003);
            };
            let before: Option<u64> = p.get("before").and_then(|v| v.parse().ok());
            let after: Option<u64> = p.get("after").and_then(|v| v.parse().ok());
            let mut page: Vec<Value> = match (before, after) {
                (_, Some(a)) => all
                    .range(a + 1..)
                    .take(limit)
                    .map(|(_, m)| m.clone())
                    .collect(),
                (Some(b), None) => all
                    .range(..b)
                    .rev()
                    .take(limit)
                    .map(|(_, m)| m.clone())
                    .collect(),
                (None, None) => all.values().rev().take(limit).cloned().collect(),
            };
            // Newest first, whichever anchor.
            page.sort_by_key(|m| {
                std::cmp::Reverse(m["id"].as_str().unwrap().parse::<u64>().unwrap())
            });
            Ok(json!(page))
        }
        ["channels", c, "messages", m] if is_bot => s
            .messages
            .get(*c)
            .and_then(|all| all.get(&m.parse::<u64>().unwrap_or(0)))
            .cloned()
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "Unknown Message", 10008)),
        ["channels", c, "threads", "archived", "public"] if is_bot => {
            let before = p.get("before").cloned();
            let mut archived: Vec<&Value> = s
                .channels
                .values()
                .flatten()
                .filter(|t| {
                    t["parent_id"].as_str() == Some(c)
                        && t["thread_metadata"]["archived"] == true
                        && t["type"] != 12
                })
                .filter(|t| {
                    before.as_deref().is_none_or(|b| {
                        t["thread_metadata"]["archive_timestamp"].as_str().unwrap() < b
                    })
                })
                .collect();
            archived.sort_by_key(|t| {
                std::cmp::Reverse(
                    t["thread_metadata"]["archive_timestamp"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            });
            let more = archived.len() > limit;
            Ok(
                json!({"threads": archived.into_iter().take(limit).collect::<Vec<_>>(), "members": [], "has_more": more}),
            )
        }
        _ => Err(error(StatusCode::FORBIDDEN, "Missing Access", 50001)),
    };
    let mut resp = match body {
        Ok(v) => Json(v).into_response(),
        Err(e) => e,
    };
    for (k, v) in rl {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    resp
}

async fn authorize(State(s): State<Shared>, Query(p): Query<HashMap<String, String>>) -> Response {
    assert_eq!(p["client_id"], CLIENT_ID);
    assert_eq!(p["response_type"], "code");
    let mut s = s.lock().unwrap();
    s.asked.push(p.get("scope").cloned().unwrap_or_default());
    let code = uuid::Uuid::new_v4().simple().to_string();
    s.codes.insert(code.clone(), p["redirect_uri"].clone());
    let back = reqwest::Url::parse_with_params(
        &p["redirect_uri"],
        &[("code", code.as_str()), ("state", p["state"].as_str())],
    )
    .unwrap();
    Redirect::to(back.as_str()).into_response()
}

async fn token(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let bad = |e: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response();
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let mut s = s.lock().unwrap();
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(redirect) = f.get("code").and_then(|c| s.codes.remove(c)) else {
                return bad("invalid_grant");
            };
            if f.get("redirect_uri") != Some(&redirect) {
                return bad("invalid_grant");
            }
        }
        Some("refresh_token") => {
            if s.refresh.as_deref() != f.get("refresh_token").map(String::as_str) {
                return bad("invalid_grant");
            }
            s.refreshes += 1;
        }
        _ => return bad("unsupported_grant_type"),
    }
    s.n += 1;
    let access = format!("dc-access-{}", s.n);
    let refresh = format!("dc-refresh-{}", s.n);
    s.user_token = access.clone();
    s.refresh = Some(refresh.clone());
    Json(
        json!({"access_token": access, "token_type": "Bearer", "expires_in": 604800,
        "refresh_token": refresh, "scope": "identify guilds"}),
    )
    .into_response()
}

/// `/api/v10/…`, `/oauth2/authorize` and `/api/oauth2/token`.
pub fn router(s: Shared) -> Router {
    Router::new()
        .route("/api/v10/{*path}", get(api))
        .route("/oauth2/authorize", get(authorize))
        .route("/api/oauth2/token", post(token))
        .with_state(s)
}
