//! A fake Google Drive v3 on loopback, written from Google's reference: `about.get`,
//! `files.list` (the `q` forms the plugin sends, `corpora`, shared drives only with
//! `includeItemsFromAllDrives`, opaque page tokens, and partial responses: a field the
//! `fields` mask does not name is absent, `nextPageToken` included), `files.get`
//! (`alt=media` for blobs, 403 `fileNotDownloadable` for Google formats), `files.export`,
//! `changes.getStartPageToken`, `changes.list` (`nextPageToken` or `newStartPageToken`),
//! `changes.watch`, `channels.stop`, Google's error envelope, and 403
//! `userRateLimitExceeded` on demand.

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

pub const FOLDER: &str = "application/vnd.google-apps.folder";
pub const DOC: &str = "application/vnd.google-apps.document";
pub const SHEET: &str = "application/vnd.google-apps.spreadsheet";

/// One file with its bytes (blobs) or export text (Google formats).
#[derive(Clone, Debug)]
pub struct FakeFile {
    pub id: String,
    pub name: String,
    pub mime: String,
    pub parents: Vec<String>,
    pub drive_id: Option<String>,
    pub trashed: bool,
    pub version: u64,
    pub modified: String,
    pub body: Vec<u8>,
    /// The size Drive reports, when not the body's (a 5 GB video the test never holds).
    pub size: Option<u64>,
}

#[derive(Default)]
pub struct Drive {
    pub files: BTreeMap<String, FakeFile>,
    /// The changes feed: (file id, removed) in order; a page token is an index into it.
    pub changes: Vec<(String, bool)>,
    /// Page tokens below this were expired by the test.
    pub oldest_token: usize,
    pub access_token: String,
    /// The next this many calls answer 403 userRateLimitExceeded.
    pub rate_limit_next: u32,
    /// The next call answers 200 with a proxy's HTML page instead of JSON.
    pub garbage_next: bool,
    pub channels: Vec<Value>,
    pub stopped: Vec<Value>,
    pub requests: Vec<String>,
    /// Scopes of the current token; `drive.metadata.readonly` alone cannot read contents.
    pub scopes: Vec<String>,
}

pub type Shared = Arc<Mutex<Drive>>;

impl Drive {
    pub fn put(&mut self, mut f: FakeFile) {
        if let Some(old) = self.files.get(&f.id) {
            f.version = old.version + 1;
        }
        self.changes.push((f.id.clone(), false));
        self.files.insert(f.id.clone(), f);
    }

    pub fn remove(&mut self, id: &str) {
        self.files.remove(id);
        self.changes.push((id.to_string(), true));
    }

    fn json(&self, f: &FakeFile) -> Value {
        let mut v = json!({
            "kind": "drive#file", "id": f.id, "name": f.name, "mimeType": f.mime,
            "parents": f.parents, "trashed": f.trashed, "version": f.version.to_string(),
            "modifiedTime": f.modified, "createdTime": "2024-01-02T03:04:05.000Z",
            "webViewLink": format!("https://drive.google.com/file/d/{}/view", f.id),
        });
        if !f.mime.starts_with("application/vnd.google-apps.") {
            let size = f.size.unwrap_or(f.body.len() as u64);
            v["size"] = json!(size.to_string());
            v["md5Checksum"] = json!(format!("{:x}", f.version * 7919 + f.body.len() as u64));
        }
        match &f.drive_id {
            Some(d) => v["driveId"] = json!(d),
            None => {
                v["owners"] = json!([{"kind": "drive#user", "displayName": "Ada Lovelace",
                    "emailAddress": "ada@example.com", "me": true}])
            }
        }
        v
    }
}

/// Google's error envelope.
pub fn error(code: u16, reason: &str, message: &str) -> Response {
    let status = match code {
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        _ => "INVALID_ARGUMENT",
    };
    let body = json!({"error": {"code": code, "message": message,
        "errors": [{"message": message, "domain": "global", "reason": reason}], "status": status}});
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

/// Drive's partial response: only what the `fields` mask names is in the answer, nested
/// masks (`files(id,owners(emailAddress))`) apply to each element, and without a mask a
/// method answers its default fields (`default`).
fn mask(v: Value, fields: Option<&String>, default: &str) -> Value {
    select(v, fields.map(String::as_str).unwrap_or(default))
}

fn select(v: Value, spec: &str) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(|i| select(i, spec)).collect()),
        Value::Object(obj) => {
            let wanted = parts(spec);
            let kept = obj.into_iter().filter_map(|(k, v)| {
                let (_, inner) = wanted.iter().find(|(name, _)| *name == k)?;
                Some((
                    k,
                    match inner {
                        Some(inner) => select(v, inner),
                        None => v,
                    },
                ))
            });
            Value::Object(kept.collect())
        }
        other => other,
    }
}

/// `a,b(c,d),e` → [("a", None), ("b", Some("c,d")), ("e", None)].
fn parts(spec: &str) -> Vec<(String, Option<String>)> {
    let (mut out, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for c in spec.chars().chain(std::iter::once(',')) {
        match c {
            ',' if depth == 0 => {
                let item = std::mem::take(&mut cur);
                let item = item.trim();
                match item.split_once('(') {
                    Some((name, rest)) => out.push((
                        name.trim().to_string(),
                        Some(rest.strip_suffix(')').unwrap_or(rest).to_string()),
                    )),
                    None if !item.is_empty() => out.push((item.to_string(), None)),
                    None => {}
                }
                continue;
            }
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        cur.push(c);
    }
    out
}

fn gate(d: &mut Drive, headers: &HeaderMap, what: String) -> Option<Response> {
    d.requests.push(what);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", d.access_token) {
        return Some(error(401, "authError", "Invalid Credentials"));
    }
    if std::mem::take(&mut d.garbage_next) {
        let page = "<html><body>Service temporarily unavailable</body></html>";
        return Some(([("content-type", "text/html")], page).into_response());
    }
    if d.rate_limit_next > 0 {
        d.rate_limit_next -= 1;
        return Some(error(
            403,
            "userRateLimitExceeded",
            "User Rate Limit Exceeded",
        ));
    }
    None
}

type Q = Query<BTreeMap<String, String>>;

async fn about(State(s): State<Shared>, h: HeaderMap, Query(q): Q) -> Response {
    let mut d = s.lock().unwrap();
    if let Some(e) = gate(&mut d, &h, "about".into()) {
        return e;
    }
    // about.get has no default fields: the mask is required.
    let Some(fields) = q.get("fields") else {
        return error(
            400,
            "required",
            "The 'fields' parameter is required for this method.",
        );
    };
    let about = json!({"kind": "drive#about", "user": {"kind": "drive#user",
        "displayName": "Ada Lovelace", "emailAddress": "ada@example.com",
        "permissionId": "perm-ada", "me": true}, "storageQuota": {"limit": "16106127360"}});
    axum::Json(select(about, fields)).into_response()
}

async fn files(State(s): State<Shared>, h: HeaderMap, Query(q): Q) -> Response {
    let mut d = s.lock().unwrap();
    if let Some(e) = gate(&mut d, &h, format!("files.list {:?}", q.get("q"))) {
        return e;
    }
    let query = q.get("q").cloned().unwrap_or_default();
    let all_drives = q.get("corpora").map(String::as_str) == Some("allDrives")
        && q.get("includeItemsFromAllDrives").map(String::as_str) == Some("true");
    let parent = query
        .strip_prefix('\'')
        .and_then(|r| r.split_once("' in parents"))
        .map(|(p, _)| p.to_string());
    let matching: Vec<&FakeFile> = d
        .files
        .values()
        .filter(|f| !f.trashed || !query.contains("trashed = false"))
        .filter(|f| all_drives || f.drive_id.is_none())
        .filter(|f| match &parent {
            Some(p) => f.parents.contains(p),
            None => {
                !query.contains("mimeType != 'application/vnd.google-apps.folder'")
                    || f.mime != FOLDER
            }
        })
        .collect();
    let size: usize = q
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .min(1000);
    let from: usize = match q.get("pageToken") {
        Some(t) => match t.strip_prefix("~!!~AI9FV7").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return error(400, "invalid", "Invalid Value"),
        },
        None => 0,
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(from)
        .take(size)
        .map(|f| d.json(f))
        .collect();
    let mut body = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": page});
    if from + size < matching.len() {
        body["nextPageToken"] = json!(format!("~!!~AI9FV7{}", from + size));
    }
    let default = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)";
    axum::Json(mask(body, q.get("fields"), default)).into_response()
}

async fn file(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let mut d = s.lock().unwrap();
    if let Some(e) = gate(&mut d, &h, format!("files.get {id} {:?}", q.get("alt"))) {
        return e;
    }
    let all = q.get("supportsAllDrives").map(String::as_str) == Some("true");
    let Some(f) = d.files.get(&id).filter(|f| all || f.drive_id.is_none()) else {
        return error(404, "notFound", &format!("File not found: {id}."));
    };
    if q.get("alt").map(String::as_str) == Some("media") {
        if let Some(e) = metadata_only(&d.scopes) {
            return e;
        }
        if f.mime.starts_with("application/vnd.google-apps.") {
            return error(
                403,
                "fileNotDownloadable",
                "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
            );
        }
        return ([("content-type", f.mime.clone())], f.body.clone()).into_response();
    }
    axum::Json(mask(d.json(f), q.get("fields"), "kind,id,name,mimeType")).into_response()
}

/// Contents need more than `drive.metadata.readonly`: 403 insufficientPermissions.
fn metadata_only(scopes: &[String]) -> Option<Response> {
    let meta = "https://www.googleapis.com/auth/drive.metadata.readonly";
    (scopes.len() == 1 && scopes[0] == meta).then(|| {
        error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
    })
}

async fn export(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Q,
) -> Response {
    let mut d = s.lock().unwrap();
    if let Some(e) = gate(&mut d, &h, format!("files.export {id}")) {
        return e;
    }
    if let Some(e) = metadata_only(&d.scopes) {
        return e;
    }
    let Some(f) = d.files.get(&id) else {
        return error(404, "notFound", &format!("File not found: {id}."));
    };
    let want = q.get("mimeType").cloned().unwrap_or_default();
    let ok = matches!(
        (f.mime.as_str(), want.as_str()),
        (DOC, "text/plain") | (SHEET, "text/csv")
    );
    if !ok {
        return error(
            400,
            "badRequest",
            "The requested conversion is not supported.",
        );
    }
    ([("content-type", want)], f.body.clone()).into_response()
}

async fn start_token(State(s): State<Shared>, h: HeaderMap) -> Response {
    let mut d = s.lock().unwrap();
    if let Some(e) = gate(&mut d, &h, "changes.getStartPageToken".into()) {
        return e;
    }
    axum::Json(
        json!({"kind": "drive#startPageToken", "startPageToken": d.changes.len().to_string()}),
    )
    .into_response()
}

async fn changes(State(s): State<Shared>, h: HeaderMap, Query(q): Q) -> Response {
    let mut d = s.lock().unwrap();
    if let Some(e) = gate(&mut d, &h, "changes.list".into()) {
        return e;
    }
    let from: usize = match q.get("pageToken").and_then(|t| t.parse().ok()) {
        Some(n) if n >= d.oldest_token && n <= d.changes.len() => n,
        _ => return error(400, "invalid", "Invalid Value"),
    };
    let size: usize = q
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
        .min(1000);
    let all_drives = q.get("includeItemsFromAllDrives").map(String::as_str) == Some("true");
    let to = (from + size).min(d.changes.len());
    let mut list = Vec::new();
    for (id, removed) in &d.changes[from..to] {
        let f = d.files.get(id);
        if f.is_some_and(|f| f.drive_id.is_some() && !all_drives) {
            continue;
        }
        let mut c = json!({"kind": "drive#change", "changeType": "file", "fileId": id,
            "time": "2024-06-01T00:00:00.000Z", "removed": *removed || f.is_none()});
        if let (Some(f), false) = (f, *removed) {
            c["file"] = d.json(f);
        }
        list.push(c);
    }
    let mut body = json!({"kind": "drive#changeList", "changes": list});
    if to < d.changes.len() {
        body["nextPageToken"] = json!(to.to_string());
    } else {
        body["newStartPageToken"] = json!(d.changes.len().to_string());
    }
    let default = "kind,nextPageToken,newStartPageToken,\
        changes(kind,changeType,time,removed,fileId,file(kind,id,name,mimeType))";
    axum::Json(mask(body, q.get("fields"), default)).into_response()
}

async fn watch(State(s): State<Shared>, h: HeaderMap, Query(q): Q, body: Bytes) -> Response {
    let mut d = s.lock().unwrap();
    if let Some(e) = gate(&mut d, &h, "changes.watch".into()) {
        return e;
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "parseError", "Parse Error");
    };
    if req["type"] != "web_hook" || !req["address"].is_string() || !q.contains_key("pageToken") {
        return error(400, "required", "Required parameter: pageToken");
    }
    let channel = json!({"kind": "api#channel", "id": req["id"], "resourceId": "res-changes-1",
        "resourceUri": "https://www.googleapis.com/drive/v3/changes?alt=json&pageToken=1",
        "token": req["token"], "expiration": req["expiration"]});
    d.channels
        .push(json!({"request": req, "channel": channel.clone()}));
    axum::Json(channel).into_response()
}

async fn stop(State(s): State<Shared>, h: HeaderMap, body: Bytes) -> Response {
    let mut d = s.lock().unwrap();
    if let Some(e) = gate(&mut d, &h, "channels.stop".into()) {
        return e;
    }
    d.stopped
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    StatusCode::NO_CONTENT.into_response()
}

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/drive/v3/about", get(about))
        .route("/drive/v3/files", get(files))
        .route("/drive/v3/files/{id}", get(file))
        .route("/drive/v3/files/{id}/export", get(export))
        .route("/drive/v3/changes/startPageToken", get(start_token))
        .route("/drive/v3/changes", get(changes))
        .route("/drive/v3/changes/watch", post(watch))
        .route("/drive/v3/channels/stop", post(stop))
        .with_state(state)
}
