//! Job progress while a sync runs: `GET /api/integrations/{provider}` shows the walk in
//! flight with counts that move page by page, and `GET /api/events` streams the same
//! progress to the integration's owner, and nothing of it to anyone else.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use tributary::db::{Connect, Owner};
use tributary::sync::{EngineConfig, NoopSink, Outcome, SyncEngine};

const N: usize = 1_000;

/// Ten pages of 100 items with inline content, each page a little slow.
async fn list(Query(q): Query<BTreeMap<String, String>>) -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(250)).await;
    let start: usize = q.get("cursor").map(|c| c.parse().unwrap()).unwrap_or(0);
    let end = (start + 100).min(N);
    let items: Vec<_> = (start..end)
        .map(|i| json!({"id": format!("i{i:04}"), "version": "1", "updated": 1, "title": "t", "body": format!("b{i}")}))
        .collect();
    Json(json!({"items": items, "next": (end < N).then(|| end.to_string())}))
}

/// Read `job` events from an SSE response until `stop` says so or `limit` passes.
async fn collect(
    resp: reqwest::Response,
    limit: Duration,
    stop: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut events = Vec::new();
    let mut buf = String::new();
    let mut body = resp.bytes_stream();
    let _ = tokio::time::timeout(limit, async {
        while let Some(chunk) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let v: Value = serde_json::from_str(data).unwrap();
                    let done = stop(&v);
                    events.push(v);
                    if done {
                        return;
                    }
                }
            }
        }
    })
    .await;
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_progress_is_live_in_the_api_and_the_event_stream() {
    let s = serve_host(None, &["paged"], false).await;
    let addr = serve(Router::new().route("/items", get(list))).await;
    let services = s.state.runtime.services();
    let settings = base_override("https://api.paged.test", addr);
    services.set_settings("paged", settings).await.unwrap();
    let db = &services.db;
    let (owner, owner_key) = user_with_key(db, "owner@t.test", false).await;
    let (_, stranger_key) = user_with_key(db, "stranger@t.test", false).await;
    let row = db
        .connect_integration(Connect {
            owner: &Owner::User(owner.id.clone()),
            provider: "paged",
            user_id: &owner.id,
            config: &serde_json::Map::new(),
            account: ("a", "a"),
        })
        .await
        .unwrap();

    let http = reqwest::Client::new();
    let events_url = format!("{}/api/events", s.base);
    let mine = http
        .get(&events_url)
        .bearer_auth(&owner_key)
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 200);
    assert_eq!(mine.headers()["content-type"], "text/event-stream");
    let theirs = http
        .get(&events_url)
        .bearer_auth(&stranger_key)
        .send()
        .await
        .unwrap();
    assert_eq!(http.get(&events_url).send().await.unwrap().status(), 401);

    let resp = http
        .post(format!("{}/api/integrations/paged/sync", s.base))
        .bearer_auth(&owner_key)
        .json(&json!({"mode": "full"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let engine = Arc::new(SyncEngine::new(
        s.state.runtime.clone(),
        Arc::new(NoopSink),
        EngineConfig {
            page_size: 100,
            ..EngineConfig::default()
        },
    ));
    let runner = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run_once().await.unwrap().unwrap().1 }
    });

    // Mid-walk, the integration view shows the running job with partial counts.
    let details_url = format!("{}/api/integrations/paged", s.base);
    eventually(
        "the view shows partial progress",
        Duration::from_secs(20),
        async || {
            let v: Value = http
                .get(&details_url)
                .bearer_auth(&owner_key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let synced = v["current_job"]["resources_synced"].as_i64().unwrap_or(0);
            v["current_job"]["status"] == "RUNNING" && synced > 0 && synced < N as i64
        },
    )
    .await;

    let events = collect(mine, Duration::from_secs(30), |v| {
        v["status"] == "COMPLETED"
    })
    .await;
    assert_eq!(runner.await.unwrap(), Outcome::Completed);
    assert!(
        events
            .iter()
            .all(|e| e["integration_id"] == row.id.as_str())
    );
    let counts: Vec<i64> = events
        .iter()
        .map(|e| e["resources_synced"].as_i64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(
        counts.iter().any(|c| *c > 0 && *c < N as i64),
        "progress was streamed mid-walk: {counts:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["status"], "COMPLETED");
    assert_eq!(last["resources_synced"], N as i64);

    // The stranger's stream carried nothing of it.
    let leaked = collect(theirs, Duration::from_secs(1), |_| true).await;
    assert!(leaked.is_empty(), "{leaked:?}");
}
