//! GitLab on loopback, from the REST API v4 reference: `/user`, `/projects` (membership),
//! projects by URL-encoded path, branches, the repository tree with keyset pagination
//! (`Link` with `page_token`, no other paging headers), raw files, issues and merge
//! requests (`updated_after`, `order_by=updated_at`, offset pages with `X-Next-Page`,
//! `X-Page`, `X-Per-Page`, `X-Total`, `X-Total-Pages` and `Link`), notes (system notes
//! among them), wikis, project hooks. Weak ETags, `If-None-Match` → 304; `RateLimit-*`
//! headers and a 429 with `Retry-After` and the plain-text body `Retry later`; errors as
//! `{"message": "404 Project Not Found"}`. A personal access token in `PRIVATE-TOKEN`
//! or `Authorization: Bearer`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const PAT: &str = "glpat-JDZ2xXyk_rivers";

pub use crate::github_fake::at;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))[..40].to_string()
}

#[derive(Default, Clone)]
pub struct Project {
    pub id: u64,
    pub path: String,
    pub files: BTreeMap<String, Vec<u8>>,
    /// `issues` and `merge_requests` by iid.
    pub items: BTreeMap<(&'static str, u64), Value>,
    pub notes: BTreeMap<(&'static str, u64), Vec<Value>>,
    pub wikis: Vec<Value>,
    pub hooks: Vec<Value>,
    pub head: u64,
}

impl Project {
    fn web(&self) -> String {
        format!("https://gitlab.rivers.test/{}", self.path)
    }

    pub fn item(&mut self, kind: &'static str, iid: u64, title: &str, minute: u64) {
        let seg = if kind == "issues" {
            "issues"
        } else {
            "merge_requests"
        };
        let mut v = json!({"id": self.id * 100_000 + iid, "iid": iid, "project_id": self.id,
            "title": title, "description": format!("Details of {title}"), "state": "opened",
            "created_at": at(minute), "updated_at": at(minute), "labels": ["flood"],
            "author": {"id": 4, "username": "grace", "name": "Grace Hopper"},
            "user_notes_count": 0, "web_url": format!("{}/-/{seg}/{iid}", self.web())});
        if kind == "merge_requests" {
            v["source_branch"] = json!(format!("fix-{iid}"));
            v["target_branch"] = json!("main");
        }
        self.items.insert((kind, iid), v);
    }

    pub fn note(
        &mut self,
        kind: &'static str,
        iid: u64,
        user: &str,
        body: &str,
        system: bool,
        minute: u64,
    ) {
        let list = self.notes.entry((kind, iid)).or_default();
        list.push(json!({"id": 300_000 + iid * 100 + list.len() as u64, "body": body, "system": system,
            "author": {"id": 5, "username": user}, "created_at": at(minute), "updated_at": at(minute),
            "noteable_iid": iid, "noteable_type": if kind == "issues" { "Issue" } else { "MergeRequest" }}));
        let users = list.iter().filter(|n| n["system"] == false).count();
        let item = self.items.get_mut(&(kind, iid)).unwrap();
        item["user_notes_count"] = json!(users);
        item["updated_at"] = json!(at(minute));
    }

    fn meta(&self) -> Value {
        json!({"id": self.id, "path_with_namespace": self.path, "name": self.path.rsplit('/').next(),
            "default_branch": "main", "web_url": self.web(), "visibility": "private"})
    }
}

#[derive(Default)]
pub struct GitLab {
    pub token: String,
    pub projects: BTreeMap<String, Project>,
    pub limited_next: usize,
    pub calls: Vec<String>,
    pub not_modified: usize,
    /// Requests counted against the user's limit (304s included: GitLab counts them).
    pub counted: usize,
}

pub type Shared = Arc<Mutex<GitLab>>;

impl GitLab {
    pub fn new(token: &str) -> GitLab {
        GitLab {
            token: token.into(),
            ..Default::default()
        }
    }

    pub fn project(&mut self, path: &str) -> &mut Project {
        let id = 278_964 + self.projects.len() as u64;
        self.projects
            .entry(path.to_ascii_lowercase())
            .or_insert_with(|| Project {
                id,
                path: path.into(),
                head: 1,
                ..Default::default()
            })
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn msg(status: u16, m: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        axum::Json(json!({"message": m})),
    )
        .into_response()
}

enum Answer {
    Json(u16, Value, Vec<(&'static str, String)>),
    Raw(Vec<u8>),
    Err(u16, &'static str),
}

async fn api(
    State(g): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut g = g.lock().unwrap();
    let path = uri
        .path()
        .strip_prefix("/api/v4")
        .unwrap_or(uri.path())
        .to_string();
    let query = uri.query().unwrap_or("").to_string();
    g.calls.push(format!("{method} {path}?{query}"));
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("");
    let token = if h("private-token").is_empty() {
        h("authorization").strip_prefix("Bearer ").unwrap_or("")
    } else {
        h("private-token")
    };
    if token != g.token {
        return msg(401, "401 Unauthorized");
    }
    g.counted += 1;
    let limit = [
        ("RateLimit-Limit", "2000".to_string()),
        ("RateLimit-Observed", g.counted.to_string()),
        (
            "RateLimit-Remaining",
            (2000 - g.counted.min(2000)).to_string(),
        ),
        ("RateLimit-Name", "throttle_authenticated_api".into()),
    ];
    if g.limited_next > 0 {
        g.limited_next -= 1;
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "Retry later\n").into_response();
        r.headers_mut().insert("retry-after", "2".parse().unwrap());
        for (k, v) in &limit {
            r.headers_mut().insert(*k, v.parse().unwrap());
        }
        return r;
    }
    let q: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let host = h("host").to_string();
    let answer = route(&mut g, &method, &path, &q, &host, &body);
    let mut r = match answer {
        Answer::Err(s, m) => return msg(s, m),
        Answer::Raw(b) => (StatusCode::OK, b).into_response(),
        Answer::Json(status, v, extra) => {
            // A 204 (a hook deleted) has no body at all.
            let bytes = if status == 204 {
                Vec::new()
            } else {
                serde_json::to_vec(&v).unwrap()
            };
            let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(&bytes)));
            let mut r = if status == 200 && h("if-none-match") == etag {
                g.not_modified += 1;
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                let mut r = (StatusCode::from_u16(status).unwrap(), bytes).into_response();
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                r
            };
            if status == 200 {
                r.headers_mut().insert("etag", etag.parse().unwrap());
            }
            for (k, v) in extra {
                r.headers_mut().insert(k, v.parse().unwrap());
            }
            r
        }
    };
    for (k, v) in &limit {
        r.headers_mut().insert(*k, v.parse().unwrap());
    }
    r
}

/// Offset pagination with every header GitLab sends under 10,000 items.
fn offset(items: Vec<Value>, q: &BTreeMap<String, String>, host: &str, path: &str) -> Answer {
    let per = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let total = items.len();
    let pages = total.div_ceil(per).max(1);
    let chunk: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let rest: Vec<String> = q
        .iter()
        .filter(|(k, _)| *k != "page")
        .map(|(k, v)| {
            format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect();
    let at = |p: usize| format!("<http://{host}/api/v4{path}?{}&page={p}>", rest.join("&"));
    let mut links = vec![
        format!("{}; rel=\"first\"", at(1)),
        format!("{}; rel=\"last\"", at(pages)),
    ];
    if page < pages {
        links.insert(0, format!("{}; rel=\"next\"", at(page + 1)));
    }
    let next = if page < pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    Answer::Json(
        200,
        Value::Array(chunk),
        vec![
            ("x-next-page", next),
            ("x-prev-page", prev),
            ("x-page", page.to_string()),
            ("x-per-page", per.to_string()),
            ("x-total", total.to_string()),
            ("x-total-pages", pages.to_string()),
            ("link", links.join(", ")),
        ],
    )
}

fn route(
    g: &mut GitLab,
    method: &Method,
    path: &str,
    q: &BTreeMap<String, String>,
    host: &str,
    body: &[u8],
) -> Answer {
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match seg.as_slice() {
        ["user"] => {
            return Answer::Json(
                200,
                json!({"id": 4, "username": "ada", "name": "Ada Lovelace", "email": "ada@rivers.test", "state": "active"}),
                vec![],
            );
        }
        ["projects"] => {
            return offset(
                g.projects.values().map(Project::meta).collect(),
                q,
                host,
                "/projects",
            );
        }
        _ => {}
    }
    let ["projects", id, rest @ ..] = seg.as_slice() else {
        return Answer::Err(404, "404 Not Found");
    };
    let id = decode(id).to_ascii_lowercase();
    let Some(p) = g
        .projects
        .values_mut()
        .find(|p| p.path.to_ascii_lowercase() == id || p.id.to_string() == id)
    else {
        return Answer::Err(404, "404 Project Not Found");
    };
    let base = format!("/projects/{}", seg[1]);
    let by_time = |mut v: Vec<Value>| {
        v.sort_by(|a, b| {
            a["updated_at"]
                .as_str()
                .cmp(&b["updated_at"].as_str())
                .then(a["iid"].as_u64().cmp(&b["iid"].as_u64()))
        });
        v
    };
    match (method.as_str(), rest) {
        ("GET", []) => Answer::Json(200, p.meta(), vec![]),
        ("GET", ["repository", "branches", "main"]) => Answer::Json(
            200,
            json!({"name": "main", "default": true,
            "commit": {"id": sha(format!("{}-{}", p.path, p.head).as_bytes()), "title": "Update"}}),
            vec![],
        ),
        ("GET", ["repository", "tree"]) => {
            // Keyset: the next page starts after the path in `page_token`.
            let per = q
                .get("per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(20usize);
            let after = q.get("page_token").cloned().unwrap_or_default();
            let all: Vec<(&String, &Vec<u8>)> = p
                .files
                .iter()
                .filter(|(k, _)| after.is_empty() || k.as_str() > after.as_str())
                .collect();
            let chunk: Vec<Value> = all.iter().take(per).map(|(k, b)| json!({"id": sha(b), "name": k.rsplit('/').next(), "type": "blob", "path": k, "mode": "100644"})).collect();
            let mut extra = vec![];
            if all.len() > per {
                let last = all[per - 1].0;
                let token =
                    url::form_urlencoded::byte_serialize(last.as_bytes()).collect::<String>();
                extra.push(("link", format!("<http://{host}/api/v4{base}/repository/tree?pagination=keyset&per_page={per}&recursive=true&ref=main&page_token={token}>; rel=\"next\"")));
            }
            Answer::Json(200, Value::Array(chunk), extra)
        }
        ("GET", ["repository", "files", file, "raw"]) => match p.files.get(&decode(file)) {
            Some(b) => Answer::Raw(b.clone()),
            None => Answer::Err(404, "404 File Not Found"),
        },
        ("GET", [kind @ ("issues" | "merge_requests")]) => {
            let k: &'static str = if *kind == "issues" {
                "issues"
            } else {
                "merge_requests"
            };
            let after = q.get("updated_after").cloned().unwrap_or_default();
            let items = p
                .items
                .iter()
                .filter(|((kk, _), v)| {
                    *kk == k && v["updated_at"].as_str().unwrap() >= after.as_str()
                })
                .map(|(_, v)| v.clone())
                .collect();
            offset(by_time(items), q, host, &format!("{base}/{k}"))
        }
        ("GET", [kind @ ("issues" | "merge_requests"), iid, rest @ ..]) => {
            let k: &'static str = if *kind == "issues" {
                "issues"
            } else {
                "merge_requests"
            };
            let iid: u64 = iid.parse().unwrap_or(0);
            match rest {
                [] => match p.items.get(&(k, iid)) {
                    Some(v) => Answer::Json(200, v.clone(), vec![]),
                    None => Answer::Err(404, "404 Not found"),
                },
                ["notes"] => {
                    let notes = p.notes.get(&(k, iid)).cloned().unwrap_or_default();
                    offset(notes, q, host, &format!("{base}/{k}/{iid}/notes"))
                }
                _ => Answer::Err(404, "404 Not Found"),
            }
        }
        ("GET", ["wikis"]) => Answer::Json(200, Value::Array(p.wikis.clone()), vec![]),
        ("POST", ["hooks"]) => {
            let mut h: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if h["url"].as_str().is_none() {
                return Answer::Err(400, "400 (Bad request) \"url\" not given");
            }
            h["id"] = json!(1_000 + p.hooks.len() as u64);
            h["project_id"] = json!(p.id);
            p.hooks.push(h.clone());
            h.as_object_mut().unwrap().remove("token");
            Answer::Json(201, h, vec![])
        }
        ("DELETE", ["hooks", hid]) => {
            let before = p.hooks.len();
            p.hooks.retain(|h| h["id"].as_u64() != hid.parse().ok());
            if p.hooks.len() == before {
                Answer::Err(404, "404 Not found")
            } else {
                Answer::Json(204, Value::Null, vec![])
            }
        }
        _ => Answer::Err(404, "404 Not Found"),
    }
}

pub fn router(g: Shared) -> Router {
    Router::new()
        .route("/api/v4/{*path}", any(api))
        .with_state(g)
}
