//! `kill -9` of the host in the middle of a large sync: after a restart the job is taken
//! over once its lease runs out and resumes from its checkpoint; the index ends equal to
//! the source, and only the page in flight at the kill is fetched twice.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use common::*;
use serde_json::json;
use tributary::db::{Db, job_status};

const N: usize = 6_000;

#[derive(Default)]
struct Api {
    fetches: BTreeMap<String, usize>,
    list_cursors: Vec<Option<String>>,
}

type Shared = Arc<Mutex<Api>>;

fn id(i: usize) -> String {
    format!("item-{i:05}")
}

async fn list(
    State(api): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<serde_json::Value> {
    let cursor = q.get("cursor").cloned();
    api.lock().unwrap().list_cursors.push(cursor.clone());
    let limit: usize = q["limit"].parse().unwrap();
    let start = cursor
        .map(|c| c["item-".len()..].parse::<usize>().unwrap() + 1)
        .unwrap_or(0);
    let end = (start + limit).min(N);
    let items: Vec<_> = (start..end)
        .map(|i| json!({"id": id(i), "version": "1", "updated": 1}))
        .collect();
    let next = (end < N).then(|| id(end - 1));
    Json(json!({"items": items, "next": next}))
}

async fn fetch(State(api): State<Shared>, Path(item): Path<String>) -> Json<serde_json::Value> {
    *api.lock().unwrap().fetches.entry(item.clone()).or_default() += 1;
    // Slow enough that the kill lands mid-walk.
    tokio::time::sleep(Duration::from_millis(1)).await;
    Json(json!({"id": item, "title": item, "body": format!("body of {item}"), "updated": 1}))
}

fn start(dir: &std::path::Path) -> Child {
    spawn_serve(
        dir,
        &[
            ("DATABASE_URL", None),
            // Short enough that the restarted host takes the job over soon, long enough
            // that a page slowed by a loaded machine never loses the lease mid-walk
            // (a takeover fetches that page again, which this test counts).
            ("TRIBUTARY_SYNC_LEASE_MS", Some("5000")),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_host_is_killed_mid_sync_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    put_file(
        &plugins,
        &std::fs::read(component("paged")).unwrap(),
        "paged.wasm",
    );
    let api: Shared = Arc::default();
    let router = Router::new()
        .route("/items", get(list))
        .route("/items/{id}", get(fetch))
        .with_state(api.clone());
    let addr = serve(router).await;

    let db = Db::connect(&Db::sqlite_url(&dir.path().join("tributary.db")))
        .await
        .unwrap();
    let settings = base_override("https://api.paged.test", addr);
    db.save_provider_settings("paged", &settings).await.unwrap();
    let row = user_integration(&db, "crash@t.test", "paged").await;
    let (job, _) = db
        .request_sync(&row.id, "paged", "full", "manual")
        .await
        .unwrap();

    let mut host = start(dir.path());
    eventually(
        "the sync is well under way",
        Duration::from_secs(60),
        async || api.lock().unwrap().fetches.len() >= N / 3,
    )
    .await;
    host.kill().unwrap(); // SIGKILL: no shutdown, no flush beyond what was committed
    host.wait().unwrap();
    let at_kill = api.lock().unwrap().fetches.len();
    assert!(at_kill < N, "killed before the end ({at_kill})");
    let checkpoint = db.sync_job(&job.id).await.unwrap().unwrap();
    assert_eq!(
        checkpoint.status,
        job_status::RUNNING,
        "the dead worker still holds the lease"
    );
    assert!(checkpoint.cursor.is_some());
    let lists_before = api.lock().unwrap().list_cursors.len();

    let mut host = start(dir.path());
    eventually(
        "the job completes after the restart",
        Duration::from_secs(120),
        async || db.sync_job(&job.id).await.unwrap().unwrap().status == job_status::COMPLETED,
    )
    .await;
    host.kill().unwrap();
    host.wait().unwrap();

    let synced = db.synced_all(&row.id).await.unwrap();
    assert_eq!(synced.len(), N, "nothing lost");
    let api = api.lock().unwrap();
    assert_eq!(api.fetches.len(), N);
    let twice: Vec<_> = api.fetches.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.len() <= 100,
        "only the page in flight is fetched again, got {}",
        twice.len()
    );
    assert!(api.fetches.values().all(|n| *n <= 2));
    assert!(
        api.list_cursors[lists_before].is_some(),
        "the restarted walk resumed from its checkpoint"
    );
    drop(api);

    // The vector store survived the kill too: its records and points agree.
    let verify = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["index", "verify", "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        out.contains(&format!("{N} indexed resources: records and index agree")),
        "{out}"
    );
}
