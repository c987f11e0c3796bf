//! Provider webhooks: the plugin verifies the signature (GitHub-style HMAC here) and says
//! what changed; the host queues resource jobs (collapsed per resource while pending) or
//! an incremental sync at webhook priority, answers handshakes with the plugin's body,
//! and refuses bad signatures and wrong addresses without queueing anything.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use common::*;
use serde_json::{Value, json};
use tributary::db::{job_status, status};
use tributary::sync::{EngineConfig, NoopSink, Outcome, SyncEngine};

#[derive(Default)]
struct Api {
    items: BTreeMap<String, String>,
    fetches: BTreeMap<String, usize>,
}

type Shared = Arc<Mutex<Api>>;

async fn list(State(api): State<Shared>) -> Json<Value> {
    let a = api.lock().unwrap();
    let items: Vec<_> = a
        .items
        .keys()
        .map(|id| json!({"id": id, "version": "1", "updated": 1}))
        .collect();
    Json(json!({"items": items, "next": null}))
}

async fn fetch(State(api): State<Shared>, Path(id): Path<String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut a = api.lock().unwrap();
    *a.fetches.entry(id.clone()).or_default() += 1;
    match a.items.get(&id) {
        Some(body) => {
            Json(json!({"id": id, "title": id, "body": body, "updated": 2})).into_response()
        }
        None => (axum::http::StatusCode::NOT_FOUND, "gone").into_response(),
    }
}

fn sign(body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(tributary_sdk::signature::hmac_sha256(b"hook-secret", body))
    )
}

async fn post(
    url: &str,
    body: &Value,
    signature: Option<String>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let bytes = serde_json::to_vec(body).unwrap();
    let sig = signature.unwrap_or_else(|| sign(&bytes));
    let resp = reqwest::Client::new()
        .post(url)
        .header("x-hub-signature-256", sig)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_webhooks_queue_resource_jobs_and_syncs() {
    let s = serve_host(None, &["paged", "misbehave"], false).await;
    let api: Shared = Arc::default();
    for i in 1..=3 {
        api.lock()
            .unwrap()
            .items
            .insert(format!("item-{i}"), format!("first {i}"));
    }
    let router = Router::new()
        .route("/items", get(list))
        .route("/items/{id}", get(fetch))
        .with_state(api.clone());
    let addr = serve(router).await;
    let services = s.state.runtime.services();
    let settings = base_override("https://api.paged.test", addr);
    services.set_settings("paged", settings).await.unwrap();
    services.set_secret("paged", "webhook_secret", "hook-secret");
    let db = &services.db;
    let row = user_integration(db, "hooks@t.test", "paged").await;
    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        Arc::new(NoopSink),
        EngineConfig::default(),
    );
    db.request_sync(&row.id, "paged", "full", "manual")
        .await
        .unwrap();
    assert_eq!(
        engine.run_once().await.unwrap().unwrap().1,
        Outcome::Completed
    );
    assert_eq!(db.synced_all(&row.id).await.unwrap().len(), 3);
    api.lock().unwrap().fetches.clear();

    let hook = format!("{}/api/webhooks/integrations/paged/{}", s.base, row.id);
    // A bad signature: 401 in the API's error shape, nothing queued.
    let (code, _, body) = post(
        &hook,
        &json!({"changed": ["item-1"]}),
        Some("sha256=00".into()),
    )
    .await;
    assert_eq!(code, 401);
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"]["code"], "invalid_signature");
    assert!(engine.run_once().await.unwrap().is_none(), "nothing queued");

    // Wrong addresses: unknown provider, per-app address of a per-integration provider,
    // another provider's address for this integration, an unknown integration.
    for url in [
        format!("{}/api/webhooks/integrations/nope/{}", s.base, row.id),
        format!("{}/api/webhooks/integrations/paged", s.base),
        format!("{}/api/webhooks/integrations/misbehave/{}", s.base, row.id),
        format!("{}/api/webhooks/integrations/paged/not-an-id", s.base),
    ] {
        let (code, _, _) = post(&url, &json!({"changed": ["item-1"]}), None).await;
        assert_eq!(code, 404, "{url}");
    }

    // Changes: item-1 changed (announced twice: one job), item-4 new, item-3 deleted.
    {
        let mut a = api.lock().unwrap();
        a.items.insert("item-1".into(), "second 1".into());
        a.items.insert("item-4".into(), "first 4".into());
        a.items.remove("item-3");
    }
    let (code, _, body) = post(
        &hook,
        &json!({"changed": ["item-1", "item-4"], "deleted": ["item-3"]}),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["queued"], 3);
    post(&hook, &json!({"changed": ["item-1"]}), None).await;
    let queued = db.sync_jobs(Some(&row.id), 50).await.unwrap();
    let pending: Vec<_> = queued
        .iter()
        .filter(|j| j.status == job_status::PENDING)
        .collect();
    assert_eq!(pending.len(), 3, "one pending job per resource");
    assert!(
        pending
            .iter()
            .all(|j| j.is_resource() && j.priority == 1 && j.trigger == "webhook")
    );
    while let Some((_, o)) = engine.run_once().await.unwrap() {
        assert_eq!(o, Outcome::Completed);
    }
    let synced: BTreeMap<String, String> =
        db.synced_all(&row.id).await.unwrap().into_iter().collect();
    let truth: BTreeMap<String, String> = api
        .lock()
        .unwrap()
        .items
        .iter()
        .map(|(id, body)| {
            (
                id.clone(),
                tributary_sdk::Content::text(id, "item", id, body).content_hash,
            )
        })
        .collect();
    assert_eq!(synced, truth, "the index equals the source");
    assert_eq!(api.lock().unwrap().fetches["item-1"], 1);

    // A handshake: the plugin's answer goes back as is (content type only).
    let (code, headers, body) = post(&hook, &json!({"challenge": "abc123"}), None).await;
    assert_eq!((code, body.as_slice()), (200, b"abc123".as_slice()));
    assert_eq!(headers["content-type"], "text/plain");

    // "Something changed": an incremental sync at webhook priority.
    let (code, _, _) = post(&hook, &json!({"sync": true}), None).await;
    assert_eq!(code, 200);
    let job = &db.sync_jobs(Some(&row.id), 1).await.unwrap()[0];
    assert_eq!(
        (job.mode.as_str(), job.trigger.as_str(), job.priority),
        ("incremental", "webhook", 1)
    );
    assert_eq!(
        engine.run_once().await.unwrap().unwrap().1,
        Outcome::Completed
    );

    // A paused integration takes no work from webhooks.
    db.set_integration_status(&row.id, status::PAUSED, None)
        .await
        .unwrap();
    let (code, _, body) = post(&hook, &json!({"changed": ["item-2"]}), None).await;
    assert_eq!(code, 200);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["queued"], 0);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(engine.run_once().await.unwrap().is_none());
}
