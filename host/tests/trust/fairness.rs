//! Fair share: endless walks give their workers back at the end of a slice when others
//! wait, and one owner never holds more workers than its cap.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tributary::db::{Caps, Db, job_status};
use tributary::sync::EngineConfig;

use super::common::*;
use super::{engine, limits, misbehave, owned};

async fn pages(db: &Db, jobs: &[String]) -> i64 {
    let mut n = 0;
    for j in jobs {
        n += db.sync_job(j).await.unwrap().unwrap().pages;
    }
    n
}

async fn statuses(db: &Db, jobs: &[String]) -> Vec<String> {
    let mut all = Vec::new();
    for j in jobs {
        all.push(db.sync_job(j).await.unwrap().unwrap().status);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_endless_walks_share_workers_with_a_normal_sync() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let mut endless = Vec::new();
    for n in 0..4 {
        let row = misbehave(db, &format!("endless{n}@t.test"), "endless").await;
        let (job, _) = db
            .request_sync(&row.id, "misbehave", "full", "manual")
            .await
            .unwrap();
        endless.push(job.id);
    }
    let config = EngineConfig {
        slice: Duration::from_millis(200),
        caps: Caps::default(),
        ..EngineConfig::default()
    };
    let workers = engine(&t, config).spawn(4, Duration::from_secs(3600));
    eventually(
        "four endless walks hold the four workers",
        Duration::from_secs(20),
        async || {
            statuses(db, &endless)
                .await
                .iter()
                .all(|s| s == job_status::RUNNING)
        },
    )
    .await;

    let normal = misbehave(db, "normal@t.test", "one").await;
    let (job, _) = db
        .request_sync(&normal.id, "misbehave", "full", "manual")
        .await
        .unwrap();
    eventually(
        "the normal sync completes",
        Duration::from_secs(20),
        async || db.sync_job(&job.id).await.unwrap().unwrap().status == job_status::COMPLETED,
    )
    .await;

    let before = pages(db, &endless).await;
    eventually(
        "the endless walks keep progressing",
        Duration::from_secs(20),
        async || pages(db, &endless).await > before + 20,
    )
    .await;
    for s in statuses(db, &endless).await {
        assert!(
            matches!(s.as_str(), "RUNNING" | "PENDING"),
            "endless walks continue: {s}"
        );
    }
    workers.stop().await;
    for s in statuses(db, &endless).await {
        assert_eq!(s, job_status::PENDING, "stopped walks wait in the queue");
    }
}

/// An API that never ends: every page names the next one.
async fn endless_api() -> std::net::SocketAddr {
    let list = |Query(q): Query<BTreeMap<String, String>>| async move {
        let n: u64 = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
        Json(json!({
            "items": [{"id": format!("i{n}"), "version": "1", "updated": 1, "title": "t", "body": "b"}],
            "next": (n + 1).to_string(),
        }))
    };
    serve(Router::new().route("/items", get(list))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_one_owner_cannot_take_every_worker() {
    let t = host(None, &["misbehave", "paged", "paced"], limits(), false).await;
    let services = t.runtime.services();
    let db = &services.db;
    let api = endless_api().await;
    for p in ["paged", "paced"] {
        let settings = base_override("https://api.paged.test", api);
        services.set_settings(p, settings).await.unwrap();
    }
    let greedy = db.create_user("greedy@t.test", false).await.unwrap();
    let mut theirs = Vec::new();
    for (provider, config) in [
        ("misbehave", json!({"mode": "endless"})),
        ("paged", json!({})),
        ("paced", json!({})),
    ] {
        let row = owned(db, &greedy, provider, config).await;
        let (job, _) = db
            .request_sync(&row.id, provider, "full", "manual")
            .await
            .unwrap();
        theirs.push(job.id);
    }
    // No slices to the rescue: only the owner cap keeps a worker free.
    let config = EngineConfig {
        slice: Duration::from_secs(3600),
        caps: Caps {
            per_provider: 100,
            per_owner: 2,
        },
        ..EngineConfig::default()
    };
    let workers = engine(&t, config).spawn(3, Duration::from_secs(3600));
    let running = async || {
        statuses(db, &theirs)
            .await
            .iter()
            .filter(|s| *s == job_status::RUNNING)
            .count()
    };
    eventually(
        "two of the greedy owner's walks run",
        Duration::from_secs(20),
        async || running().await == 2,
    )
    .await;
    let other = misbehave(db, "modest@t.test", "one").await;
    let (job, _) = db
        .request_sync(&other.id, "misbehave", "full", "manual")
        .await
        .unwrap();
    eventually(
        "another owner's sync completes",
        Duration::from_secs(20),
        async || db.sync_job(&job.id).await.unwrap().unwrap().status == job_status::COMPLETED,
    )
    .await;
    assert_eq!(running().await, 2, "the cap held while a worker was free");
    workers.stop().await;
}
