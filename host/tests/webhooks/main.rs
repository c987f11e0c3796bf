//! Webhooks (issue 10): the plugin verifies on the request path; verified deliveries are
//! committed to the delivery log before the 2xx and fanned out into jobs by the webhook
//! worker; redeliveries are acknowledged without new work; a webhook fetch that races a
//! walk never replaces newer content with older; a host killed under 10,000 concurrent
//! deliveries loses none it acknowledged. WIT 0.2.0 beside 0.1.0: both versions sync in
//! one host, host downloads, declared actions. One test binary: every module links the
//! host once.

#[path = "../common/mod.rs"]
mod common;

mod actions;
mod deliveries;
mod downloads;
mod intake;
mod killed;
mod perapp;
mod stale;
mod subscriptions;
mod versions;
mod warm;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

/// One item of the fake API: its body and its modified time.
#[derive(Clone)]
pub struct Item {
    pub body: String,
    pub updated: i64,
}

/// The paged test provider's API, in memory.
#[derive(Default)]
pub struct Api {
    pub items: BTreeMap<String, Item>,
    /// Items whose body is a file the host downloads: mime type, bytes, reported size.
    pub files: BTreeMap<String, (String, Vec<u8>, Option<u64>)>,
    /// Downloads served, by id.
    pub downloads: BTreeMap<String, usize>,
    /// List files inline (with title, mime type and path) instead of as references.
    pub inline_files: bool,
    /// Items created through `POST /items` (the `create_item` action), in order.
    pub created: Vec<Value>,
    pub fetches: BTreeMap<String, usize>,
    /// A fetch of this id says so on `.1` and waits for `.2` (a walk held mid-page).
    pub hold: Option<(String, Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>)>,
}

pub type Shared = Arc<Mutex<Api>>;

impl Api {
    pub fn put(&mut self, id: &str, body: &str, updated: i64) {
        self.items.insert(
            id.into(),
            Item {
                body: body.into(),
                updated,
            },
        );
    }
}

/// Items in id order after `cursor` (the last id of the previous page), `limit` a page.
async fn list(State(api): State<Shared>, Query(q): Query<BTreeMap<String, String>>) -> Json<Value> {
    let a = api.lock().unwrap();
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    let after = q.get("cursor").cloned().unwrap_or_default();
    let rest: Vec<_> = a.items.iter().filter(|(id, _)| **id > after).collect();
    let items: Vec<_> = rest
        .iter()
        .take(limit)
        .map(|(id, i)| {
            let mut v = json!({"id": id, "version": i.updated.to_string(), "updated": i.updated});
            // Files listed inline, when asked: the host downloads them during the listing.
            if let Some((mime, _, size)) = a.files.get(*id).filter(|_| a.inline_files) {
                let file = if mime == "elsewhere" {
                    "https://files.elsewhere.test/x".to_string()
                } else {
                    format!("/files/{id}")
                };
                v.as_object_mut().unwrap().extend(
                    json!({"title": id, "body": "", "file": file, "mime": mime, "size": size})
                        .as_object()
                        .unwrap()
                        .clone(),
                );
            }
            v
        })
        .collect();
    let next = (rest.len() > limit).then(|| rest[limit - 1].0.clone());
    Json(json!({"items": items, "next": next}))
}

async fn fetch(State(api): State<Shared>, Path(id): Path<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let hold = api.lock().unwrap().hold.clone();
    if let Some((held, reached, release)) = hold
        && held == id
    {
        reached.notify_one();
        release.notified().await;
    }
    let mut a = api.lock().unwrap();
    *a.fetches.entry(id.clone()).or_default() += 1;
    let file = a.files.get(&id).map(|(mime, _, size)| {
        let path = if mime == "elsewhere" {
            "https://files.elsewhere.test/x".to_string()
        } else {
            format!("/files/{id}")
        };
        json!({"file": path, "mime": mime, "size": size})
    });
    match a.items.get(&id) {
        Some(i) => {
            let mut v = json!({"id": id, "title": id, "body": i.body, "updated": i.updated});
            if let Some(Value::Object(f)) = file {
                v.as_object_mut().unwrap().extend(f);
            }
            Json(v).into_response()
        }
        None => (axum::http::StatusCode::NOT_FOUND, "gone").into_response(),
    }
}

/// A file's bytes (the host downloads them; the plugin never sees them).
async fn file(State(api): State<Shared>, Path(id): Path<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut a = api.lock().unwrap();
    *a.downloads.entry(id.clone()).or_default() += 1;
    match a.files.get(&id) {
        Some((mime, bytes, _)) => (
            [(axum::http::header::CONTENT_TYPE, mime.clone())],
            bytes.clone(),
        )
            .into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "gone").into_response(),
    }
}

/// `POST /items`: create an item from `{title, body}`.
async fn create(State(api): State<Shared>, Json(v): Json<Value>) -> Json<Value> {
    let mut a = api.lock().unwrap();
    a.created.push(v.clone());
    let id = format!("new-{}", a.created.len());
    a.put(&id, v["body"].as_str().unwrap_or_default(), 1);
    Json(json!({"id": id}))
}

/// Serve the fake API; its address.
pub async fn fake_api(api: Shared) -> std::net::SocketAddr {
    let router = Router::new()
        .route("/items", get(list).post(create))
        .route("/items/{id}", get(fetch))
        .route("/files/{id}", get(file))
        .with_state(api);
    common::serve(router).await
}

/// A served host running `components` (with `tune` applied), the paged plugin's API
/// faked in memory and pointed at by an admin override, its app secret `hook-secret`.
pub async fn paged_host(
    components: &[&str],
    tune: impl FnOnce(&mut tributary::server::HostConfig),
) -> (common::Served, Shared) {
    let s = common::serve_host_tuned(None, components, false, tune).await;
    let api: Shared = Arc::default();
    let addr = fake_api(api.clone()).await;
    let services = s.state.runtime.services();
    services
        .set_settings(
            "paged",
            common::base_override("https://api.paged.test", addr),
        )
        .await
        .unwrap();
    services.set_secret("paged", "webhook_secret", "hook-secret");
    (s, api)
}

/// A host with the paged plugin (its app secret set), `email`'s integration with it and
/// that integration's webhook URL.
pub async fn hooked(
    db_url: Option<String>,
    email: &str,
) -> (common::Served, tributary::db::Integration, String) {
    let s = common::serve_host(db_url, &["paged"], false).await;
    s.state
        .runtime
        .services()
        .set_secret("paged", "webhook_secret", "hook-secret");
    let row = common::user_integration(s.state.db(), email, "paged").await;
    let hook = format!("{}/api/webhooks/integrations/paged/{}", s.base, row.id);
    (s, row, hook)
}

/// GitHub's scheme, as the paged plugin checks it.
pub fn sign(body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(tributary_sdk::signature::hmac_sha256(b"hook-secret", body))
    )
}

/// A delivery's answer: status, headers, body.
pub type Answer = (u16, reqwest::header::HeaderMap, Vec<u8>);

/// POST a delivery, signed unless `signature` says otherwise, with an optional
/// `X-GitHub-Delivery` id.
pub async fn post_with(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    signature: Option<String>,
    delivery: Option<&str>,
) -> Answer {
    let bytes = serde_json::to_vec(body).unwrap();
    let sig = signature.unwrap_or_else(|| sign(&bytes));
    let mut req = client.post(url).header("x-hub-signature-256", sig);
    if let Some(d) = delivery {
        req = req.header("x-github-delivery", d);
    }
    let resp = req.body(bytes).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

/// [`post_with`] without a delivery id, on a fresh client.
pub async fn post(url: &str, body: &Value, signature: Option<String>) -> Answer {
    post_with(&reqwest::Client::new(), url, body, signature, None).await
}

/// `user`'s own integration with `provider` (no credential), as a connect leaves it.
pub async fn owned_integration(
    db: &tributary::db::Db,
    user: &tributary::db::User,
    provider: &str,
) -> tributary::db::Integration {
    let owner = tributary::db::Owner::User(user.id.clone());
    db.connect_integration(tributary::db::Connect {
        owner: &owner,
        provider,
        user_id: &user.id,
        config: &serde_json::Map::new(),
        account: ("a", "a"),
    })
    .await
    .unwrap()
}
