//! A fake Google Calendar v3 on loopback, from Google's reference and sync guide:
//! `calendars.get`, `events.list` (full: cancelled events left out; with `syncToken`: only
//! what changed since, cancelled ones included; `nextSyncToken` only on the last page; a
//! page with no items that still has a `nextPageToken`, as real answers have), `events.get`,
//! `events.watch`, `channels.stop`, 410 `fullSyncRequired` for a token it no longer
//! honours, 403 `rateLimitExceeded` on demand.

// Shared by the provider tests and the providers bench; each uses a part.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Default)]
pub struct Calendar {
    /// (calendar, event id) → (change sequence, event).
    pub events: BTreeMap<(String, String), (u64, Value)>,
    pub seq: u64,
    /// Sync tokens below this get 410.
    pub oldest_sync: u64,
    pub access_token: String,
    pub rate_limit_next: u32,
    pub channels: Vec<Value>,
    pub stopped: Vec<Value>,
}

pub type Shared = Arc<Mutex<Calendar>>;

impl Calendar {
    /// Insert or change an event (its etag and `updated` move).
    pub fn put(&mut self, cal: &str, mut event: Value) {
        self.seq += 1;
        event["kind"] = json!("calendar#event");
        event["etag"] = json!(format!("\"{}\"", 3546602776806302u64 + self.seq));
        event["updated"] = json!(format!(
            "2026-03-12T07:{:02}:{:02}.000Z",
            (self.seq / 60) % 60,
            self.seq % 60
        ));
        event["htmlLink"] = json!(format!(
            "https://www.google.com/calendar/event?eid={}",
            event["id"].as_str().unwrap()
        ));
        if event.get("status").is_none() {
            event["status"] = json!("confirmed");
        }
        let id = event["id"].as_str().unwrap().to_string();
        self.events.insert((cal.into(), id), (self.seq, event));
    }

    pub fn cancel(&mut self, cal: &str, id: &str) {
        let (_, mut e) = self.events[&(cal.to_string(), id.to_string())].clone();
        e["status"] = json!("cancelled");
        self.put(cal, e);
    }
}

fn error(code: u16, domain: &str, reason: &str, message: &str) -> Response {
    let body = json!({"error": {"errors": [{"domain": domain, "reason": reason, "message": message}],
        "code": code, "message": message}});
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

fn gate(c: &mut Calendar, h: &HeaderMap) -> Option<Response> {
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", c.access_token) {
        return Some(error(401, "global", "authError", "Invalid Credentials"));
    }
    if c.rate_limit_next > 0 {
        c.rate_limit_next -= 1;
        return Some(error(
            403,
            "usageLimits",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        ));
    }
    None
}

type Q = Query<BTreeMap<String, String>>;

fn real(cal: &str) -> String {
    if cal == "primary" {
        "ada@example.com".into()
    } else {
        cal.into()
    }
}

async fn calendar(State(s): State<Shared>, h: HeaderMap, Path(cal): Path<String>) -> Response {
    let mut c = s.lock().unwrap();
    if let Some(e) = gate(&mut c, &h) {
        return e;
    }
    axum::Json(
        json!({"kind": "calendar#calendar", "id": real(&cal), "summary": real(&cal),
        "timeZone": "Europe/London"}),
    )
    .into_response()
}

async fn events(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(cal): Path<String>,
    Query(q): Q,
) -> Response {
    let mut c = s.lock().unwrap();
    if let Some(e) = gate(&mut c, &h) {
        return e;
    }
    let since = match q.get("syncToken") {
        Some(t) => match t.strip_prefix("CPjN").and_then(|n| n.parse::<u64>().ok()) {
            Some(n) if n >= c.oldest_sync => Some(n),
            _ => {
                return error(
                    410,
                    "calendar",
                    "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                );
            }
        },
        None => None,
    };
    let list: Vec<&Value> = c
        .events
        .iter()
        .filter(|((k, _), _)| *k == real(&cal) || *k == cal)
        .filter(|(_, (seq, e))| match since {
            Some(n) => *seq > n,
            None => e["status"] != "cancelled",
        })
        .map(|(_, (_, e))| e)
        .collect();
    let size: usize = q
        .get("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(250)
        .min(2500);
    let (from, empty) = match q.get("pageToken") {
        None => (0, false),
        Some(t) => match t.split_once(':') {
            Some(("empty", n)) => (n.parse().unwrap_or(0), true),
            Some(("page", n)) => (n.parse().unwrap_or(0), false),
            _ => return error(400, "global", "invalid", "Invalid Value"),
        },
    };
    let mut body = json!({"kind": "calendar#events", "etag": "\"p337orgdrtqcp60o\"", "summary": real(&cal),
        "updated": "2026-03-12T07:43:10.132Z", "timeZone": "Europe/London", "accessRole": "owner",
        "defaultReminders": []});
    if empty {
        // The real API's quirk: a page with no items that still leads on.
        body["items"] = json!([]);
        body["nextPageToken"] = json!(format!("page:{from}"));
        return axum::Json(body).into_response();
    }
    let items: Vec<&Value> = list.iter().skip(from).take(size).copied().collect();
    body["items"] = json!(items);
    if from + size < list.len() {
        // Every other page goes through an empty one first.
        let kind = if (from / size).is_multiple_of(2) {
            "empty"
        } else {
            "page"
        };
        body["nextPageToken"] = json!(format!("{kind}:{}", from + size));
    } else {
        body["nextSyncToken"] = json!(format!("CPjN{}", c.seq));
    }
    axum::Json(body).into_response()
}

async fn event(
    State(s): State<Shared>,
    h: HeaderMap,
    Path((cal, id)): Path<(String, String)>,
) -> Response {
    let mut c = s.lock().unwrap();
    if let Some(e) = gate(&mut c, &h) {
        return e;
    }
    match c
        .events
        .get(&(real(&cal), id.clone()))
        .or_else(|| c.events.get(&(cal.clone(), id)))
    {
        Some((_, e)) => axum::Json(e.clone()).into_response(),
        None => error(404, "global", "notFound", "Not Found"),
    }
}

async fn watch(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(cal): Path<String>,
    body: Bytes,
) -> Response {
    let mut c = s.lock().unwrap();
    if let Some(e) = gate(&mut c, &h) {
        return e;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if req["type"] != "web_hook" || !req["address"].is_string() {
        return error(400, "global", "required", "Required");
    }
    let n = c.channels.len();
    let channel = json!({"kind": "api#channel", "id": req["id"], "resourceId": format!("res-{n}"),
        "resourceUri": format!("https://www.googleapis.com/calendar/v3/calendars/{cal}/events?alt=json"),
        "expiration": (1_800_000_000_000i64 + n as i64).to_string()});
    c.channels
        .push(json!({"calendar": cal, "request": req, "channel": channel.clone()}));
    axum::Json(channel).into_response()
}

async fn stop(State(s): State<Shared>, h: HeaderMap, body: Bytes) -> Response {
    let mut c = s.lock().unwrap();
    if let Some(e) = gate(&mut c, &h) {
        return e;
    }
    c.stopped
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    StatusCode::NO_CONTENT.into_response()
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/calendar/v3/calendars/{cal}", get(calendar))
        .route("/calendar/v3/calendars/{cal}/events", get(events))
        .route("/calendar/v3/calendars/{cal}/events/watch", post(watch))
        .route("/calendar/v3/calendars/{cal}/events/{id}", get(event))
        .route("/calendar/v3/channels/stop", post(stop))
        .with_state(state)
}
