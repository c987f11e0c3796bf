//! Slack on loopback, from the Web API and OAuth v2 references: `auth.test`,
//! `conversations.list|history|replies|info` and `users.info` with the bearer token,
//! opaque base64 cursors (`team:<id>`, `next_ts:<ts>`) and `response_metadata.next_cursor`
//! (`""` at the end of a list; a history's last page has no `response_metadata` at all),
//! errors as `200 {"ok": false, "error"}`, a real `429` with `Retry-After`. OAuth v2:
//! `/oauth/v2/authorize` approves at once; `oauth.v2.access` answers with the bot token at
//! the root and the user token under `authed_user`, and with token rotation a refresh
//! answers a new user token and a new refresh token at the root.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "2141029472.691202649728";
pub const CLIENT_SECRET: &str = "e1b6f7b4c1a0d2f3e4a5b6c7d8e9f0a1";
pub const TEAM: &str = "T0RIVERS1";
pub const ME: &str = "U0ADA0001";

#[derive(Default)]
pub struct Slack {
    /// The user token that works now.
    pub token: String,
    pub revoked: bool,
    /// Rotation: the last token expired (its refresh token still works).
    pub expired: bool,
    pub channels: Vec<Value>,
    /// Per channel, every message (top level and replies) by ts.
    pub messages: BTreeMap<String, BTreeMap<String, Value>>,
    pub users: HashMap<String, Value>,
    pub rate_limit_next: usize,
    /// Methods called, in order.
    pub calls: Vec<String>,
    /// `user_scope` of each authorize request.
    pub asked: Vec<String>,
    pub codes: HashMap<String, String>,
    pub refresh: Option<String>,
    pub refreshes: usize,
    pub n: usize,
}

pub type Shared = Arc<Mutex<Slack>>;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn unb64(s: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    String::from_utf8(raw).ok()
}

fn fail(error: &str) -> Response {
    Json(
        json!({"ok": false, "error": error, "warning": "missing_charset",
        "response_metadata": {"warnings": ["missing_charset"]}}),
    )
    .into_response()
}

/// Compare Slack timestamps exactly (seconds, then microseconds).
pub fn ts_key(ts: &str) -> (u64, u64) {
    let (s, f) = ts.split_once('.').unwrap_or((ts, "0"));
    (s.parse().unwrap_or(0), f.parse().unwrap_or(0))
}

impl Slack {
    pub fn channel(&mut self, id: &str, name: &str, extra: Value) {
        let mut c = json!({"id": id, "name": name, "name_normalized": name, "created": 1772031275,
            "is_channel": true, "is_group": false, "is_im": false, "is_mpim": false,
            "is_private": false, "is_archived": false, "is_general": false, "is_member": true,
            "is_shared": false, "is_ext_shared": false, "context_team_id": TEAM,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0}, "previous_names": [],
            "num_members": 4});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        self.channels.push(c);
        self.messages.entry(id.to_string()).or_default();
    }

    pub fn post(&mut self, channel: &str, m: Value) {
        let ts = m["ts"].as_str().unwrap().to_string();
        let mut m = m;
        m["type"] = json!("message");
        m["team"] = json!(TEAM);
        self.messages
            .entry(channel.to_string())
            .or_default()
            .insert(ts, m);
    }

    pub fn edit(&mut self, channel: &str, ts: &str, text: &str, at: &str) {
        let m = self.messages.get_mut(channel).unwrap().get_mut(ts).unwrap();
        m["text"] = json!(text);
        m["edited"] = json!({"user": m["user"].clone(), "ts": at});
    }

    pub fn delete(&mut self, channel: &str, ts: &str) {
        self.messages.get_mut(channel).unwrap().remove(ts);
    }

    /// A message as history/replies show it: a thread opener gains its reply fields.
    fn shown(&self, channel: &str, m: &Value) -> Value {
        let ts = m["ts"].as_str().unwrap();
        let replies: Vec<&Value> = self.messages[channel]
            .values()
            .filter(|r| r["thread_ts"].as_str() == Some(ts) && r["ts"].as_str() != Some(ts))
            .collect();
        let mut m = m.clone();
        if !replies.is_empty() {
            let latest = replies.last().unwrap()["ts"].clone();
            let mut users: Vec<Value> = replies.iter().map(|r| r["user"].clone()).collect();
            users.dedup();
            m["thread_ts"] = json!(ts);
            m["reply_count"] = json!(replies.len());
            m["reply_users_count"] = json!(users.len());
            m["latest_reply"] = latest;
            m["reply_users"] = json!(users);
            m["is_locked"] = json!(false);
            m["subscribed"] = json!(false);
        }
        m
    }
}

fn q<'a>(p: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    p.get(k).map(String::as_str)
}

async fn method(
    State(s): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let mut s = s.lock().unwrap();
    s.calls.push(name.clone());
    if s.rate_limit_next > 0 {
        s.rate_limit_next -= 1;
        let body = json!({"ok": false, "error": "ratelimited"});
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "1")],
            Json(body),
        )
            .into_response();
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bearer.is_empty() {
        return fail("not_authed");
    }
    if bearer != s.token {
        let code = match (s.revoked, s.expired) {
            (true, _) => "token_revoked",
            (_, true) => "token_expired",
            _ => "invalid_auth",
        };
        return fail(code);
    }
    let limit: usize = q(&p, "limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    match name.as_str() {
        "auth.test" => Json(json!({"ok": true, "url": "https://rivers.slack.com/",
            "team": "Rivers", "user": "ada", "team_id": TEAM, "user_id": ME,
            "is_enterprise_install": false}))
        .into_response(),
        "users.info" => match s.users.get(q(&p, "user").unwrap_or("")) {
            Some(u) => Json(json!({"ok": true, "user": u})).into_response(),
            None => fail("user_not_found"),
        },
        "conversations.info" => {
            match s
                .channels
                .iter()
                .find(|c| c["id"].as_str() == q(&p, "channel"))
            {
                Some(c) => Json(json!({"ok": true, "channel": c})).into_response(),
                None => fail("channel_not_found"),
            }
        }
        "conversations.list" => {
            let types: Vec<&str> = q(&p, "types")
                .unwrap_or("public_channel")
                .split(',')
                .collect();
            let kind = |c: &Value| {
                let f = |k: &str| c[k].as_bool().unwrap_or(false);
                if f("is_im") {
                    "im"
                } else if f("is_mpim") {
                    "mpim"
                } else if f("is_private") {
                    "private_channel"
                } else {
                    "public_channel"
                }
            };
            let start = q(&p, "cursor")
                .and_then(unb64)
                .and_then(|c| c.strip_prefix("team:").map(String::from));
            let mut all: Vec<&Value> = s
                .channels
                .iter()
                .filter(|c| types.contains(&kind(c)))
                .collect();
            all.sort_by_key(|c| c["id"].as_str().unwrap().to_string());
            let from = match &start {
                Some(id) => all
                    .iter()
                    .position(|c| c["id"].as_str() == Some(id))
                    .unwrap_or(all.len()),
                None => 0,
            };
            let page: Vec<&Value> = all.iter().skip(from).take(limit).copied().collect();
            let next = all
                .get(from + limit)
                .map(|c| b64(&format!("team:{}", c["id"].as_str().unwrap())))
                .unwrap_or_default();
            Json(json!({"ok": true, "channels": page, "response_metadata": {"next_cursor": next}}))
                .into_response()
        }
        "conversations.history" => {
            let ch = q(&p, "channel").unwrap_or("");
            let Some(all) = s.messages.get(ch) else {
                return fail("channel_not_found");
            };
            let inclusive = q(&p, "inclusive") == Some("true") || q(&p, "inclusive") == Some("1");
            let oldest = q(&p, "oldest").map(ts_key);
            let latest = q(&p, "latest").map(ts_key);
            let before = q(&p, "cursor")
                .and_then(unb64)
                .and_then(|c| c.strip_prefix("next_ts:").map(ts_key));
            let mut top: Vec<&Value> = all
                .values()
                .filter(|m| {
                    let ts = m["ts"].as_str().unwrap();
                    let root = m["thread_ts"].as_str().unwrap_or(ts);
                    root == ts || m["subtype"] == "thread_broadcast"
                })
                .filter(|m| {
                    let k = ts_key(m["ts"].as_str().unwrap());
                    let after_oldest =
                        oldest.is_none_or(|o| if inclusive { k >= o } else { k > o });
                    let before_latest =
                        latest.is_none_or(|l| if inclusive { k <= l } else { k < l });
                    after_oldest && before_latest && before.is_none_or(|b| k <= b)
                })
                .collect();
            top.sort_by_key(|m| std::cmp::Reverse(ts_key(m["ts"].as_str().unwrap())));
            let page: Vec<Value> = top.iter().take(limit).map(|m| s.shown(ch, m)).collect();
            let mut body = json!({"ok": true, "messages": page, "has_more": top.len() > limit,
                "pin_count": 0, "channel_actions_ts": null, "channel_actions_count": 0});
            if let Some(next) = top.get(limit) {
                body["response_metadata"] = json!({"next_cursor": b64(&format!("next_ts:{}", next["ts"].as_str().unwrap()))});
            }
            Json(body).into_response()
        }
        "conversations.replies" => {
            let ch = q(&p, "channel").unwrap_or("");
            let ts = q(&p, "ts").unwrap_or("");
            let Some(all) = s.messages.get(ch) else {
                return fail("channel_not_found");
            };
            let Some(parent) = all.get(ts) else {
                return fail("thread_not_found");
            };
            let from = q(&p, "cursor")
                .and_then(unb64)
                .and_then(|c| c.strip_prefix("next_ts:").map(ts_key));
            let mut replies: Vec<&Value> = all
                .values()
                .filter(|r| r["thread_ts"].as_str() == Some(ts) && r["ts"].as_str() != Some(ts))
                .filter(|r| from.is_none_or(|f| ts_key(r["ts"].as_str().unwrap()) >= f))
                .collect();
            replies.sort_by_key(|r| ts_key(r["ts"].as_str().unwrap()));
            // The opener leads every page.
            let mut page = vec![s.shown(ch, parent)];
            page.extend(
                replies
                    .iter()
                    .take(limit.saturating_sub(1).max(1))
                    .map(|r| (*r).clone()),
            );
            let shown = page.len() - 1;
            let mut body = json!({"ok": true, "messages": page, "has_more": replies.len() > shown});
            if let Some(next) = replies.get(shown) {
                body["response_metadata"] = json!({"next_cursor": b64(&format!("next_ts:{}", next["ts"].as_str().unwrap()))});
            }
            Json(body).into_response()
        }
        _ => fail("unknown_method"),
    }
}

async fn authorize(State(s): State<Shared>, Query(p): Query<HashMap<String, String>>) -> Response {
    assert_eq!(p["client_id"], CLIENT_ID);
    let mut s = s.lock().unwrap();
    s.asked
        .push(p.get("user_scope").cloned().unwrap_or_default());
    let code = format!("{}.{}", ME, uuid::Uuid::new_v4().simple());
    s.codes.insert(code.clone(), p["redirect_uri"].clone());
    let back = reqwest::Url::parse_with_params(
        &p["redirect_uri"],
        &[("code", code.as_str()), ("state", p["state"].as_str())],
    )
    .unwrap();
    Redirect::to(back.as_str()).into_response()
}

async fn access(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return fail("invalid_client_id");
    }
    let mut s = s.lock().unwrap();
    s.n += 1;
    let user_token = format!("xoxe.xoxp-1-rivers-{}", s.n);
    let refresh = format!("xoxe-1-rivers-{}", s.n);
    let scope = "channels:history,channels:read,groups:history,groups:read,im:history,im:read,mpim:history,mpim:read,users:read";
    match f.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            if s.refresh.as_deref() != f.get("refresh_token").map(String::as_str) {
                return fail("invalid_refresh_token");
            }
            s.refreshes += 1;
            s.expired = false;
            s.token = user_token.clone();
            s.refresh = Some(refresh.clone());
            Json(
                json!({"ok": true, "app_id": "A0RIVERS", "authed_user": {"id": ME},
                "scope": scope, "token_type": "user", "access_token": user_token,
                "refresh_token": refresh, "expires_in": 43200,
                "team": {"id": TEAM, "name": "Rivers"}, "enterprise": null,
                "is_enterprise_install": false}),
            )
            .into_response()
        }
        _ => {
            let Some(redirect) = f.get("code").and_then(|c| s.codes.remove(c)) else {
                return fail("invalid_code");
            };
            if f.get("redirect_uri") != Some(&redirect) {
                return fail("bad_redirect_uri");
            }
            s.token = user_token.clone();
            s.refresh = Some(refresh.clone());
            Json(json!({"ok": true, "app_id": "A0RIVERS",
                "authed_user": {"id": ME, "scope": scope, "access_token": user_token,
                    "token_type": "user", "refresh_token": refresh, "expires_in": 43200},
                "team": {"id": TEAM, "name": "Rivers"}, "enterprise": null,
                "is_enterprise_install": false}))
            .into_response()
        }
    }
}

async fn access_get() -> Response {
    fail("invalid_code")
}

/// `/api/{method}` and `/oauth/v2/authorize`.
pub fn router(s: Shared) -> Router {
    Router::new()
        .route("/api/oauth.v2.access", get(access_get).post(access))
        .route("/api/{method}", get(method))
        .route("/oauth/v2/authorize", get(authorize))
        .with_state(s)
}
