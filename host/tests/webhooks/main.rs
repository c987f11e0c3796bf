//! Webhooks (issue 10): the plugin verifies on the request path; verified deliveries are
//! committed to the delivery log before the 2xx and fanned out into jobs by the webhook
//! worker; redeliveries are acknowledged without new work; a webhook fetch that races a
//! walk never replaces newer content with older; a host killed under 10,000 concurrent
//! deliveries loses none it acknowledged. One test binary: every module links the host
//! once.

#[path = "../common/mod.rs"]
mod common;

mod deliveries;
mod intake;
mod killed;
mod perapp;
mod stale;
mod subscriptions;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
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
    pub fetches: BTreeMap<String, usize>,
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

async fn list(State(api): State<Shared>) -> Json<Value> {
    let a = api.lock().unwrap();
    let items: Vec<_> = a
        .items
        .iter()
        .map(|(id, i)| json!({"id": id, "version": i.updated.to_string(), "updated": i.updated}))
        .collect();
    Json(json!({"items": items, "next": null}))
}

async fn fetch(State(api): State<Shared>, Path(id): Path<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut a = api.lock().unwrap();
    *a.fetches.entry(id.clone()).or_default() += 1;
    match a.items.get(&id) {
        Some(i) => Json(json!({"id": id, "title": id, "body": i.body, "updated": i.updated}))
            .into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "gone").into_response(),
    }
}

/// Serve the fake API; its address.
pub async fn fake_api(api: Shared) -> std::net::SocketAddr {
    let router = Router::new()
        .route("/items", get(list))
        .route("/items/{id}", get(fetch))
        .with_state(api);
    common::serve(router).await
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
