//! Two WIT versions in one host: a component built against the frozen 0.1.0 (plain
//! wit-bindgen, never rebuilt) and one built with the SDK against 0.2.0 connect, sync and
//! are searchable side by side; the 0.1.0 one reaches the host's capabilities (HTTP with
//! the credential injected, logging) through the same permission checks.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::json;
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use super::common::*;
use super::*;

/// The 0.1.0 provider's API: two items, behind an API key in `X-Legacy-Key`.
async fn legacy_items(headers: HeaderMap) -> (StatusCode, axum::Json<serde_json::Value>) {
    if headers.get("x-legacy-key").and_then(|v| v.to_str().ok()) != Some("legacy-key") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "bad key"})),
        );
    }
    (
        StatusCode::OK,
        axum::Json(json!([
            {"id": "l1", "title": "Harbour", "text": "The lighthouse keeper logs every ship."},
            {"id": "l2", "title": "Orchard", "text": "Apple trees bloom in late spring."},
        ])),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_0_1_0_and_a_0_2_0_plugin_sync_in_one_host() {
    let s = serve_host(None, &["legacy_v1", "paged"], false).await;
    let legacy = serve(axum::Router::new().route("/items", get(legacy_items))).await;
    let api: Shared = Arc::default();
    api.lock()
        .unwrap()
        .put("p1", "Glaciers carve the valley floor slowly.", 3);
    let paged = fake_api(api.clone()).await;
    let services = s.state.runtime.services();
    for (provider, origin, addr) in [
        ("legacy", "https://api.legacy.test", legacy),
        ("paged", "https://api.paged.test", paged),
    ] {
        services
            .set_settings(provider, base_override(origin, addr))
            .await
            .unwrap();
    }
    let versions: Vec<_> = s
        .state
        .runtime
        .plugins()
        .iter()
        .map(|p| (p.manifest.id.clone(), p.manifest.wit_version))
        // The bundled first-party plugins are there too.
        .filter(|(id, _)| {
            !tributary::bundled::BUNDLED
                .iter()
                .any(|(file, _)| *file == format!("{id}.wasm"))
        })
        .collect();
    assert_eq!(
        versions,
        [("legacy".into(), "0.1.0"), ("paged".into(), "0.2.0")]
    );

    // Connecting the 0.1.0 plugin runs its check: an HTTP call with the key injected.
    let db = s.state.db();
    let (user, key) = user_with_key(db, "both@t.test", false).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/api/integrations/legacy/connect", s.base))
        .bearer_auth(&key)
        .json(&json!({"api_key": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        422,
        "a key the provider refuses is not connected"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let resp = reqwest::Client::new()
        .post(format!("{}/api/integrations/legacy/connect", s.base))
        .bearer_auth(&key)
        .json(&json!({"api_key": "legacy-key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let old = db
        .integration(&tributary::db::Owner::User(user.id.clone()), "legacy")
        .await
        .unwrap()
        .unwrap();
    let new = owned_integration(db, &user, "paged").await;

    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    for row in [&old, &new] {
        db.request_sync(&row.id, &row.provider, "full", "manual")
            .await
            .unwrap();
    }
    let mut runs = 0;
    while let Some((job, o)) = engine.run_once().await.unwrap() {
        assert_eq!(o, Outcome::Completed, "{job}");
        runs += 1;
    }
    assert_eq!(runs, 2);
    assert_eq!(held(db, &old.id).await, ["l1", "l2"]);
    assert_eq!(held(db, &new.id).await, ["p1"]);
    let hit = |v: &serde_json::Value| v["results"][0]["external_id"].clone();
    assert_eq!(hit(&search(&s.base, &key, "lighthouse keeper").await), "l1");
    assert_eq!(hit(&search(&s.base, &key, "glaciers valley").await), "p1");
}
