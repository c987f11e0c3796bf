//! A fake Gmail API v1 on loopback, from Google's reference and sync guide: `getProfile`,
//! `messages.list` (ids only, newest first, `labelIds` / `q` with `after:` `before:` `from:`
//! and words, spam and trash left out, opaque numeric `nextPageToken`,
//! `resultSizeEstimate`), `messages.get?format=full` (MIME tree, base64url bodies,
//! attachments by `attachmentId` only, string `historyId` / `internalDate`),
//! `history.list` (records with `messagesAdded` / `messagesDeleted` / `labelsAdded` /
//! `labelsRemoved`, `historyTypes` and `labelId` filters, 404 `notFound` for a start id it
//! no longer keeps), `watch` / `stop`, `drafts.create` (403 `insufficientPermissions`
//! without `gmail.compose`), 429 `rateLimitExceeded` on demand, quota units counted, and
//! Google's ID-token keys at `/oauth2/v3/certs`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Value, json};

pub const COMPOSE: &str = "https://www.googleapis.com/auth/gmail.compose";

#[derive(Clone)]
pub struct Msg {
    pub id: String,
    pub thread: String,
    pub at: i64,
    pub labels: Vec<String>,
    pub from: String,
    pub subject: String,
    pub history: u64,
    /// The `payload` of `format=full`.
    pub payload: Value,
}

#[derive(Default)]
pub struct Mailbox {
    pub email: String,
    pub messages: BTreeMap<String, Msg>,
    /// (history id, record) in order.
    pub history: Vec<(u64, Value)>,
    pub history_id: u64,
    /// A `startHistoryId` below this gets 404.
    pub oldest_history: u64,
    pub access_token: String,
    pub scopes: Vec<String>,
    pub rate_limit_next: u32,
    /// Quota units spent (messages.list 5, messages.get 5, history.list 2, getProfile 1,
    /// drafts.create 10, watch 100, stop 50).
    pub units: u64,
    pub gets: u64,
    pub watches: Vec<Value>,
    pub stops: usize,
    pub drafts: Vec<String>,
    pub certs: Value,
}

pub type Shared = Arc<Mutex<Mailbox>>;

/// base64url as Gmail writes bodies.
pub fn b64(s: &[u8]) -> String {
    URL_SAFE.encode(s)
}

fn headers(from: &str, subject: &str, at: i64) -> Value {
    json!([{"name": "From", "value": from}, {"name": "To", "value": "Ada Lovelace <ada@example.com>"},
        {"name": "Subject", "value": subject}, {"name": "Date", "value": format!("ms {at}")},
        {"name": "Message-ID", "value": format!("<{at}@mail.example.com>")}])
}

/// A single text/plain part.
pub fn plain(from: &str, subject: &str, at: i64, text: &str) -> Value {
    json!({"partId": "", "mimeType": "text/plain", "filename": "", "headers": headers(from, subject, at),
        "body": {"size": text.len(), "data": b64(text.as_bytes())}})
}

/// multipart/alternative with text and HTML.
pub fn alternative(from: &str, subject: &str, at: i64, text: &str, html: &str) -> Value {
    json!({"partId": "", "mimeType": "multipart/alternative", "filename": "", "headers": headers(from, subject, at),
        "body": {"size": 0}, "parts": [
            {"partId": "0", "mimeType": "text/plain", "filename": "",
             "headers": [{"name": "Content-Type", "value": "text/plain; charset=\"UTF-8\""}],
             "body": {"size": text.len(), "data": b64(text.as_bytes())}},
            {"partId": "1", "mimeType": "text/html", "filename": "",
             "headers": [{"name": "Content-Type", "value": "text/html; charset=\"UTF-8\""}],
             "body": {"size": html.len(), "data": b64(html.as_bytes())}}]})
}

/// A single text/html part (no plain text at all).
pub fn html_only(from: &str, subject: &str, at: i64, html: &str) -> Value {
    let mut h = headers(from, subject, at);
    h.as_array_mut()
        .unwrap()
        .push(json!({"name": "Content-Type", "value": "text/html; charset=UTF-8"}));
    json!({"partId": "", "mimeType": "text/html", "filename": "", "headers": h,
        "body": {"size": html.len(), "data": b64(html.as_bytes())}})
}

/// multipart/mixed: text and one attachment (its bytes only by attachmentId).
pub fn with_attachment(from: &str, subject: &str, at: i64, text: &str, file: &str) -> Value {
    json!({"partId": "", "mimeType": "multipart/mixed", "filename": "", "headers": headers(from, subject, at),
        "body": {"size": 0}, "parts": [
            {"partId": "0", "mimeType": "text/plain", "filename": "",
             "headers": [{"name": "Content-Type", "value": "text/plain; charset=\"UTF-8\""}],
             "body": {"size": text.len(), "data": b64(text.as_bytes())}},
            {"partId": "1", "mimeType": "application/pdf", "filename": file,
             "headers": [{"name": "Content-Type", "value": format!("application/pdf; name=\"{file}\"")},
                         {"name": "Content-Disposition", "value": format!("attachment; filename=\"{file}\"")}],
             "body": {"size": 48213, "attachmentId": format!("ANGjdJ8{}", at)}}]})
}

impl Mailbox {
    fn record(&mut self, key: &str, m: &Msg, label_change: Option<&[&str]>) {
        self.history_id += 1 + (self.history_id % 3); // increasing, not contiguous
        let mut entry =
            json!({"message": {"id": m.id, "threadId": m.thread, "labelIds": m.labels}});
        if let Some(l) = label_change {
            entry["labelIds"] = json!(l);
        }
        let rec = json!({"id": self.history_id.to_string(),
            "messages": [{"id": m.id, "threadId": m.thread}], key: [entry]});
        self.history.push((self.history_id, rec));
    }

    /// Deliver a message (a history record when the walk has begun).
    pub fn add(&mut self, mut m: Msg) {
        self.history_id += 1;
        m.history = self.history_id;
        self.record("messagesAdded", &m, None);
        self.messages.insert(m.id.clone(), m);
    }

    pub fn delete(&mut self, id: &str) {
        let m = self.messages.remove(id).unwrap();
        self.record("messagesDeleted", &m, None);
    }

    pub fn label(&mut self, id: &str, add: &[&str], remove: &[&str]) {
        let mut m = self.messages[id].clone();
        m.labels.retain(|l| !remove.contains(&l.as_str()));
        m.labels.extend(add.iter().map(|s| s.to_string()));
        self.messages.insert(id.into(), m.clone());
        if !add.is_empty() {
            self.record("labelsAdded", &m, Some(add));
        }
        if !remove.is_empty() {
            self.record("labelsRemoved", &m, Some(remove));
        }
    }

    fn full(&self, m: &Msg) -> Value {
        json!({"id": m.id, "threadId": m.thread, "labelIds": m.labels, "snippet": m.subject,
            "payload": m.payload, "sizeEstimate": 2048, "historyId": m.history.to_string(),
            "internalDate": m.at.to_string()})
    }
}

pub fn error(code: u16, domain: &str, reason: &str, message: &str, status: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}], "status": status}});
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

fn gate(m: &mut Mailbox, h: &HeaderMap, units: u64) -> Option<Response> {
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", m.access_token) {
        return Some(error(
            401,
            "global",
            "authError",
            "Invalid Credentials",
            "UNAUTHENTICATED",
        ));
    }
    if m.rate_limit_next > 0 {
        m.rate_limit_next -= 1;
        let body = json!({"error": {"errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded",
            "message": "Rate Limit Exceeded"}], "code": 429, "message": "Rate Limit Exceeded"}});
        return Some((StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response());
    }
    m.units += units;
    None
}

/// Query pairs in order, repeated keys kept (`labelIds`, `historyTypes`).
fn pairs(q: &Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn one(p: &[(String, String)], k: &str) -> Option<String> {
    p.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone())
}

fn day_ms(d: &str) -> Option<i64> {
    let mut it = d.split('/').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (it.next()??, it.next()??, it.next()??);
    // Days from civil (Howard Hinnant), UTC midnight.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146097 + doe - 719468) * 86_400_000)
}

/// Gmail's search, the part the tests use: `after:` `before:` `from:` and words.
fn matches(m: &Msg, q: &str) -> bool {
    q.replace(['(', ')'], " ").split_whitespace().all(|t| {
        if let Some(d) = t.strip_prefix("after:") {
            day_ms(d).is_some_and(|ms| m.at >= ms)
        } else if let Some(d) = t.strip_prefix("before:") {
            day_ms(d).is_some_and(|ms| m.at < ms)
        } else if let Some(f) = t.strip_prefix("from:") {
            m.from.to_lowercase().contains(&f.to_lowercase())
        } else {
            m.subject.to_lowercase().contains(&t.to_lowercase())
        }
    })
}

async fn profile(State(s): State<Shared>, h: HeaderMap) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(e) = gate(&mut m, &h, 1) {
        return e;
    }
    axum::Json(
        json!({"emailAddress": m.email, "messagesTotal": m.messages.len(),
        "threadsTotal": m.messages.len(), "historyId": m.history_id.to_string()}),
    )
    .into_response()
}

async fn list(State(s): State<Shared>, h: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(e) = gate(&mut m, &h, 5) {
        return e;
    }
    let p = pairs(&q);
    let labels: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "labelIds")
        .map(|(_, v)| v.clone())
        .collect();
    let query = one(&p, "q").unwrap_or_default();
    let mut found: Vec<&Msg> = m
        .messages
        .values()
        .filter(|x| !x.labels.iter().any(|l| l == "SPAM" || l == "TRASH"))
        .filter(|x| labels.iter().all(|l| x.labels.contains(l)))
        .filter(|x| matches(x, &query))
        .collect();
    found.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
    let size: usize = one(&p, "maxResults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .min(500);
    let from = match one(&p, "pageToken") {
        None => 0,
        Some(t) => match t.parse::<u64>() {
            Ok(n) if n >= 7_000_000_000_000_000_000 => (n - 7_000_000_000_000_000_000) as usize,
            _ => {
                return error(
                    400,
                    "global",
                    "invalidArgument",
                    "Invalid pageToken",
                    "INVALID_ARGUMENT",
                );
            }
        },
    };
    let ids: Vec<Value> = found
        .iter()
        .skip(from)
        .take(size)
        .map(|x| json!({"id": x.id, "threadId": x.thread}))
        .collect();
    let mut body = json!({"resultSizeEstimate": found.len()});
    if !ids.is_empty() {
        body["messages"] = json!(ids);
    }
    if from + size < found.len() {
        body["nextPageToken"] = json!(format!(
            "{}",
            7_000_000_000_000_000_000u64 + (from + size) as u64
        ));
    }
    axum::Json(body).into_response()
}

async fn message(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(e) = gate(&mut m, &h, 5) {
        return e;
    }
    m.gets += 1;
    assert_eq!(
        one(&pairs(&q), "format").as_deref(),
        Some("full"),
        "the plugin asks for the full tree"
    );
    match m.messages.get(&id) {
        Some(x) => axum::Json(m.full(x)).into_response(),
        None => error(
            404,
            "global",
            "notFound",
            "Requested entity was not found.",
            "NOT_FOUND",
        ),
    }
}

async fn history(State(s): State<Shared>, h: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(e) = gate(&mut m, &h, 2) {
        return e;
    }
    let p = pairs(&q);
    let Some(start) = one(&p, "startHistoryId").and_then(|v| v.parse::<u64>().ok()) else {
        return error(
            400,
            "global",
            "invalidArgument",
            "Missing startHistoryId",
            "INVALID_ARGUMENT",
        );
    };
    if start < m.oldest_history {
        return error(
            404,
            "global",
            "notFound",
            "Requested entity was not found.",
            "NOT_FOUND",
        );
    }
    let types: Vec<String> = p
        .iter()
        .filter(|(k, _)| k == "historyTypes")
        .map(|(_, v)| v.clone())
        .collect();
    let label = one(&p, "labelId");
    let key = |t: &str| match t {
        "messageAdded" => "messagesAdded",
        "messageDeleted" => "messagesDeleted",
        "labelAdded" => "labelsAdded",
        _ => "labelsRemoved",
    };
    let wanted: Vec<&str> = types.iter().map(|t| key(t)).collect();
    let records: Vec<Value> = m
        .history
        .iter()
        .filter(|(id, _)| *id > start)
        .filter(|(_, r)| wanted.is_empty() || wanted.iter().any(|k| r.get(*k).is_some()))
        .filter(|(_, r)| {
            label.as_ref().is_none_or(|l| {
                r.as_object()
                    .unwrap()
                    .values()
                    .filter_map(|v| v.as_array())
                    .flatten()
                    .any(|e| {
                        e["message"]["labelIds"]
                            .as_array()
                            .is_some_and(|ls| ls.iter().any(|x| x == l.as_str()))
                    })
            })
        })
        .map(|(_, r)| r.clone())
        .collect();
    let size: usize = one(&p, "maxResults")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .min(500);
    let from: usize = one(&p, "pageToken")
        .and_then(|t| t.strip_prefix("h").and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    let mut body = json!({"historyId": m.history_id.to_string()});
    let page: Vec<&Value> = records.iter().skip(from).take(size).collect();
    if !page.is_empty() {
        body["history"] = json!(page);
    }
    if from + size < records.len() {
        body["nextPageToken"] = json!(format!("h{}", from + size));
    }
    axum::Json(body).into_response()
}

async fn watch(State(s): State<Shared>, h: HeaderMap, body: Bytes) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(e) = gate(&mut m, &h, 100) {
        return e;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let topic = req["topicName"].as_str().unwrap_or("");
    if !topic.starts_with("projects/") || !topic.contains("/topics/") {
        return error(
            400,
            "global",
            "invalidArgument",
            "Invalid topicName does not match projects/SOME-PROJECT/topics/SOME-TOPIC",
            "INVALID_ARGUMENT",
        );
    }
    m.watches.push(req);
    axum::Json(json!({"historyId": m.history_id.to_string(), "expiration": "1800000000000"}))
        .into_response()
}

async fn stop(State(s): State<Shared>, h: HeaderMap) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(e) = gate(&mut m, &h, 50) {
        return e;
    }
    m.stops += 1;
    StatusCode::NO_CONTENT.into_response()
}

async fn create_draft(State(s): State<Shared>, h: HeaderMap, body: Bytes) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(e) = gate(&mut m, &h, 10) {
        return e;
    }
    if !m.scopes.iter().any(|x| x == COMPOSE) {
        return error(
            403,
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
            "PERMISSION_DENIED",
        );
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(raw) = req["message"]["raw"]
        .as_str()
        .and_then(|r| URL_SAFE.decode(r).ok())
    else {
        return error(
            400,
            "global",
            "invalidArgument",
            "Invalid value for ByteString",
            "INVALID_ARGUMENT",
        );
    };
    m.drafts.push(String::from_utf8(raw).unwrap());
    let n = m.drafts.len();
    axum::Json(json!({"id": format!("r-64717929396190129{n}"), "message": {"id": format!("19dda5f53af7ee{n:02}"),
        "threadId": format!("19dda5f53af7ee{n:02}"), "labelIds": ["DRAFT"]}}))
    .into_response()
}

async fn certs(State(s): State<Shared>) -> Response {
    axum::Json(s.lock().unwrap().certs.clone()).into_response()
}

/// Serve `gmail.googleapis.com` (and the certs of `www.googleapis.com`).
pub fn router(s: Shared) -> Router {
    Router::new()
        .route("/gmail/v1/users/me/profile", get(profile))
        .route("/gmail/v1/users/me/messages", get(list))
        .route("/gmail/v1/users/me/messages/{id}", get(message))
        .route("/gmail/v1/users/me/history", get(history))
        .route("/gmail/v1/users/me/watch", post(watch))
        .route("/gmail/v1/users/me/stop", post(stop))
        .route("/gmail/v1/users/me/drafts", post(create_draft))
        .route("/oauth2/v3/certs", get(certs))
        .with_state(s)
}
