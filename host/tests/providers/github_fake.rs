//! GitHub on loopback, from the REST reference (API version 2022-11-28), served under a
//! GitHub Enterprise Server's `/api/v3` prefix: `/user`, `/user/repos`, repositories,
//! recursive git trees, contents (JSON or `application/vnd.github.raw`), issues (pull
//! requests included, `since` on `updated_at`, `Link` pages that switch to
//! `/repositories/<id>/…`), issue and review comments, releases, repository hooks.
//! Weak ETags on every 200; `If-None-Match` answers 304 with no body and costs no budget;
//! `x-ratelimit-*` headers; the primary limit (403, remaining 0) and a secondary limit
//! (403 with `retry-after`); errors as `{"message", "documentation_url"}`. OAuth:
//! `/login/oauth/authorize` approves at once, `/login/oauth/access_token` answers JSON.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "Iv1.8a61f9b3a7aba766";
pub const CLIENT_SECRET: &str = "1f4e7c0b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";
pub const TOKEN: &str = "gho_16C7e42F292c6912E7710c838347Ae178B4a";

pub use crate::github_repo::{Repo, at, sha};

#[derive(Default)]
pub struct GitHub {
    pub token: String,
    pub repos: BTreeMap<String, Repo>,
    /// Primary budget left; `reset` is its Unix time.
    pub remaining: i64,
    pub reset: i64,
    /// The next request gets a secondary rate limit (403 + retry-after 3).
    pub secondary_next: usize,
    /// `METHOD path?query` of every API request, in order.
    pub calls: Vec<String>,
    /// 304 answers given.
    pub not_modified: usize,
    /// `scope` of each authorize request.
    pub asked: Vec<String>,
    pub codes: HashMap<String, String>,
    next_hook: u64,
}

pub type Shared = Arc<Mutex<GitHub>>;

impl GitHub {
    pub fn new(token: &str) -> GitHub {
        GitHub {
            token: token.into(),
            remaining: 5000,
            reset: now() + 3600,
            ..Default::default()
        }
    }

    pub fn repo(&mut self, full_name: &str) -> &mut Repo {
        let id = 1_296_269 + self.repos.len() as u64;
        self.repos
            .entry(full_name.to_ascii_lowercase())
            .or_insert_with(|| Repo {
                id,
                full_name: full_name.into(),
                branch: "main".into(),
                admin: true,
                ..Default::default()
            })
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rate_headers(g: &GitHub) -> Vec<(&'static str, String)> {
    vec![
        ("x-ratelimit-limit", "5000".into()),
        ("x-ratelimit-remaining", g.remaining.max(0).to_string()),
        ("x-ratelimit-used", (5000 - g.remaining.max(0)).to_string()),
        ("x-ratelimit-reset", g.reset.to_string()),
        ("x-ratelimit-resource", "core".into()),
        ("x-github-api-version-selected", "2022-11-28".into()),
    ]
}

fn error(status: u16, message: &str, extra: Vec<(&'static str, String)>) -> Response {
    let body = json!({"message": message, "documentation_url": "https://docs.github.com/rest",
        "status": status.to_string()});
    let mut r = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    for (k, v) in extra {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

fn params(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Every API request: auth, budget, dispatch, ETag.
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
        .strip_prefix("/api/v3")
        .unwrap_or(uri.path())
        .to_string();
    g.calls.push(format!(
        "{method} {path}{}",
        uri.query().map(|q| format!("?{q}")).unwrap_or_default()
    ));
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))
        .unwrap_or("");
    if token != g.token {
        return error(401, "Bad credentials", vec![]);
    }
    if g.secondary_next > 0 {
        g.secondary_next -= 1;
        let mut h = rate_headers(&g);
        h.push(("retry-after", "3".into()));
        return error(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            h,
        );
    }
    if g.remaining <= 0 {
        let h = rate_headers(&g);
        return error(403, "API rate limit exceeded for user ID 7.", h);
    }
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let raw =
        headers.get("accept").and_then(|v| v.to_str().ok()) == Some("application/vnd.github.raw");
    let answer = route(&mut g, &method, &path, &params(&uri), &host, raw, &body);
    let (status, value, link) = match answer {
        Answer::Json(s, v, link) => (s, v, link),
        Answer::Raw(bytes) => {
            g.remaining -= 1;
            let mut r = (StatusCode::OK, bytes).into_response();
            r.headers_mut().insert(
                "content-type",
                "application/vnd.github.raw".parse().unwrap(),
            );
            return r;
        }
        Answer::Error(s, m) => {
            g.remaining -= 1;
            return error(s, &m, rate_headers(&g));
        }
    };
    // A 204 (a hook deleted) has no body at all.
    let bytes = if status == 204 {
        Vec::new()
    } else {
        serde_json::to_vec(&value).unwrap()
    };
    let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(&bytes)));
    let matched = headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str());
    let mut r = if matched && status == 200 {
        // Free: a 304 does not count against the primary limit.
        g.not_modified += 1;
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        g.remaining -= 1;
        let mut r = (StatusCode::from_u16(status).unwrap(), bytes).into_response();
        r.headers_mut().insert(
            "content-type",
            "application/json; charset=utf-8".parse().unwrap(),
        );
        r
    };
    for (k, v) in rate_headers(&g) {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    if status == 200 {
        r.headers_mut().insert("etag", etag.parse().unwrap());
    }
    if let Some(l) = link {
        r.headers_mut().insert("link", l.parse().unwrap());
    }
    r
}

enum Answer {
    Json(u16, Value, Option<String>),
    Raw(Vec<u8>),
    Error(u16, String),
}

fn not_found() -> Answer {
    Answer::Error(404, "Not Found".into())
}

/// A page of `items` with GitHub's `Link` header (`/repositories/<id>/…` URLs).
fn paged(
    items: Vec<Value>,
    q: &BTreeMap<String, String>,
    host: &str,
    repo_id: u64,
    tail: &str,
) -> Answer {
    let per = q
        .get("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30usize)
        .clamp(1, 100);
    let page = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let last = items.len().div_ceil(per).max(1);
    let chunk: Vec<Value> = items.into_iter().skip((page - 1) * per).take(per).collect();
    let mut rest: Vec<String> = q
        .iter()
        .filter(|(k, _)| *k != "page")
        .map(|(k, v)| {
            format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect();
    rest.sort();
    let at = |p: usize| {
        format!(
            "<http://{host}/api/v3/repositories/{repo_id}/{tail}?{}&page={p}>",
            rest.join("&")
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", at(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", at(page + 1)));
        links.push(format!("{}; rel=\"last\"", at(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", at(1)));
    }
    Answer::Json(
        200,
        Value::Array(chunk),
        (!links.is_empty()).then(|| links.join(", ")),
    )
}

fn route(
    g: &mut GitHub,
    method: &Method,
    path: &str,
    q: &BTreeMap<String, String>,
    host: &str,
    raw: bool,
    body: &[u8],
) -> Answer {
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if seg == ["user"] {
        return Answer::Json(
            200,
            json!({"login": "ada", "id": 7, "name": "Ada Lovelace", "email": "ada@rivers.test", "type": "User"}),
            None,
        );
    }
    if seg == ["user", "repos"] {
        let list: Vec<Value> = g.repos.values().map(Repo::meta).collect();
        return Answer::Json(200, Value::Array(list), None);
    }
    // `/repos/{o}/{r}/…` or `/repositories/{id}/…`.
    let (key, rest) = match seg.as_slice() {
        ["repos", o, r, rest @ ..] => (format!("{o}/{r}").to_ascii_lowercase(), rest.to_vec()),
        ["repositories", id, rest @ ..] => {
            match g.repos.iter().find(|(_, r)| r.id.to_string() == *id) {
                Some((k, _)) => (k.clone(), rest.to_vec()),
                None => return not_found(),
            }
        }
        _ => return not_found(),
    };
    let next_hook = g.next_hook;
    let Some(repo) = g.repos.get_mut(&key) else {
        return not_found();
    };
    let by_time = |mut v: Vec<Value>| {
        v.sort_by(|a, b| {
            a["updated_at"]
                .as_str()
                .cmp(&b["updated_at"].as_str())
                .then(a["id"].as_u64().cmp(&b["id"].as_u64()))
        });
        v
    };
    match (method.as_str(), rest.as_slice()) {
        ("GET", []) => Answer::Json(200, repo.meta(), None),
        ("GET", ["git", "trees", branch]) if *branch == repo.branch => {
            let (sha, tree) = repo.tree();
            Answer::Json(
                200,
                json!({"sha": sha, "url": "https://api.github.com/tree", "tree": tree, "truncated": false}),
                None,
            )
        }
        ("GET", ["contents", file @ ..]) => {
            let p = file.join("/");
            let p = url::form_urlencoded::parse(format!("p={p}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let Some(bytes) = repo.files.get(&p) else {
                return not_found();
            };
            if raw {
                return Answer::Raw(bytes.clone());
            }
            use base64::Engine as _;
            Answer::Json(
                200,
                json!({"type": "file", "encoding": "base64", "size": bytes.len(), "name": p.rsplit('/').next(),
                "path": p, "content": base64::engine::general_purpose::STANDARD.encode(bytes), "sha": sha(bytes),
                "html_url": format!("{}/blob/{}/{p}", repo.html(), repo.branch)}),
                None,
            )
        }
        ("GET", ["issues"]) => {
            let since = q.get("since").cloned().unwrap_or_default();
            let items = repo
                .issues
                .values()
                .filter(|i| i["updated_at"].as_str().unwrap() >= since.as_str())
                .cloned()
                .collect();
            paged(by_time(items), q, host, repo.id, "issues")
        }
        ("GET", ["issues", n]) => match n.parse::<u64>().ok().and_then(|n| repo.issues.get(&n)) {
            Some(i) => Answer::Json(200, i.clone(), None),
            None => not_found(),
        },
        ("GET", ["issues", n, "comments"]) => {
            let n: u64 = n.parse().unwrap_or(0);
            let list = repo.comments.get(&n).cloned().unwrap_or_default();
            paged(list, q, host, repo.id, &format!("issues/{n}/comments"))
        }
        ("GET", ["pulls", n, "comments"]) => {
            let n: u64 = n.parse().unwrap_or(0);
            let list = repo.review_comments.get(&n).cloned().unwrap_or_default();
            paged(list, q, host, repo.id, &format!("pulls/{n}/comments"))
        }
        ("GET", ["releases"]) => paged(repo.releases.clone(), q, host, repo.id, "releases"),
        ("GET", ["hooks"]) => {
            let shown: Vec<Value> = repo.hooks.iter().map(masked).collect();
            paged(shown, q, host, repo.id, "hooks")
        }
        ("POST", ["hooks"]) => {
            if !repo.admin {
                return not_found();
            }
            let mut h: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if h["config"]["url"].as_str().is_none() {
                return Answer::Error(422, "Validation Failed".into());
            }
            if repo
                .hooks
                .iter()
                .any(|x| x["config"]["url"] == h["config"]["url"])
            {
                return Answer::Error(
                    422,
                    "Validation Failed: Hook already exists on this repository".into(),
                );
            }
            h["id"] = json!(12_000_000 + next_hook);
            h["type"] = json!("Repository");
            repo.hooks.push(h.clone());
            g.next_hook += 1;
            Answer::Json(201, masked(&h), None)
        }
        ("DELETE", ["hooks", id]) => {
            let before = repo.hooks.len();
            repo.hooks.retain(|h| h["id"].as_u64() != id.parse().ok());
            if repo.hooks.len() == before {
                not_found()
            } else {
                Answer::Json(204, Value::Null, None)
            }
        }
        _ => not_found(),
    }
}

/// GitHub never shows a hook's secret back.
fn masked(h: &Value) -> Value {
    let mut h = h.clone();
    if h["config"]["secret"].is_string() {
        h["config"]["secret"] = json!("********");
    }
    h
}

async fn authorize(State(g): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut g = g.lock().unwrap();
    g.asked.push(q.get("scope").cloned().unwrap_or_default());
    let code = format!("code-{}", g.codes.len());
    g.codes.insert(code.clone(), q["client_id"].clone());
    let to = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
    Redirect::to(&to).into_response()
}

async fn access_token(State(g): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let g = g.lock().unwrap();
    let ok = form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && form
            .get("code")
            .is_some_and(|c| g.codes.get(c).map(String::as_str) == Some(CLIENT_ID));
    let wants_json = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("json"));
    if !wants_json {
        return (StatusCode::OK, "error=unsupported_accept").into_response();
    }
    if !ok {
        // GitHub answers a bad code with 200 and an error object.
        return axum::Json(json!({"error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"})).into_response();
    }
    axum::Json(json!({"access_token": g.token, "token_type": "bearer", "scope": "repo,read:org"}))
        .into_response()
}

pub fn router(g: Shared) -> Router {
    Router::new()
        .route("/api/v3/{*path}", any(api))
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(access_token))
        .with_state(g)
}
