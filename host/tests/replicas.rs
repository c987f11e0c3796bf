//! Three host processes on one PostgreSQL database share the queue and the provider's
//! request budget: 50 integrations are each synced by exactly one job that runs once,
//! every item is fetched once, and the provider never sees more than its declared rate.

mod common;

use std::collections::BTreeMap;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use common::*;
use serde_json::json;
use tributary::db::{Connect, Db, Owner, job_status};

const INTEGRATIONS: usize = 50;
const ITEMS: usize = 3;
/// `paced` declares 1,200 requests a minute: 20 a second, bursts of 20.
const PER_SECOND: usize = 20;

#[derive(Default)]
struct Api {
    arrivals: Vec<Instant>,
    first_pages: BTreeMap<String, usize>,
    fetches: BTreeMap<(String, String), usize>,
}

type Shared = Arc<Mutex<Api>>;

async fn list(
    State(api): State<Shared>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<serde_json::Value> {
    let mut a = api.lock().unwrap();
    a.arrivals.push(Instant::now());
    let collection = q["collection"].clone();
    if !q.contains_key("cursor") {
        *a.first_pages.entry(collection.clone()).or_default() += 1;
    }
    let items: Vec<_> = (0..ITEMS)
        .map(|i| json!({"id": format!("{collection}-{i}"), "version": "1", "updated": 1}))
        .collect();
    Json(json!({"items": items, "next": null}))
}

async fn fetch(
    State(api): State<Shared>,
    Path(item): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<serde_json::Value> {
    let mut a = api.lock().unwrap();
    a.arrivals.push(Instant::now());
    *a.fetches
        .entry((q["collection"].clone(), item.clone()))
        .or_default() += 1;
    Json(json!({"id": item, "title": item, "body": format!("body of {item}"), "updated": 1}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_three_hosts_share_one_postgres_queue_and_rate() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let api: Shared = Arc::default();
    let router = Router::new()
        .route("/items", get(list))
        .route("/items/{id}", get(fetch))
        .with_state(api.clone());
    let addr = serve(router).await;

    let db = Db::connect(&url).await.unwrap();
    let settings = base_override("https://api.paged.test", addr);
    db.save_provider_settings("paced", &settings).await.unwrap();
    let mut jobs = Vec::new();
    for n in 0..INTEGRATIONS {
        let user = db
            .create_user(&format!("r{n}@t.test"), false)
            .await
            .unwrap();
        let mut config = serde_json::Map::new();
        config.insert("collection".into(), json!(format!("c{n:02}")));
        let owner = Owner::User(user.id.clone());
        let row = db
            .connect_integration(Connect {
                owner: &owner,
                provider: "paced",
                user_id: &user.id,
                config: &config,
                account: ("a", "a"),
            })
            .await
            .unwrap();
        let (job, _) = db
            .request_sync(&row.id, "paced", "full", "manual")
            .await
            .unwrap();
        jobs.push(job.id);
    }

    // The scheduler (running in every host) finds them all queued already.
    assert_eq!(tributary::sync::schedule_due(&db).await.unwrap(), 0);

    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut hosts: Vec<Child> = dirs
        .iter()
        .map(|d| {
            let plugins = d.path().join("plugins");
            std::fs::create_dir_all(&plugins).unwrap();
            put_file(
                &plugins,
                &std::fs::read(component("paced")).unwrap(),
                "paced.wasm",
            );
            let key = "11".repeat(32);
            spawn_serve(
                d.path(),
                &[
                    ("DATABASE_URL", Some(url.as_str())),
                    ("TOKEN_ENCRYPTION_KEY", Some(key.as_str())),
                    // This test is about the shared queue and rate budget; each replica
                    // keeping its own embedded index is allowed for it explicitly.
                    ("TRIBUTARY_ALLOW_SPLIT_INDEX", Some("1")),
                ],
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let statuses = loop {
        let all = db.sync_jobs(None, 500).await.unwrap();
        let done = all
            .iter()
            .filter(|j| j.status == job_status::COMPLETED)
            .count();
        if done == INTEGRATIONS || Instant::now() > deadline {
            break all
                .iter()
                .map(|j| (j.status.clone(), j.error_message.clone()))
                .collect::<Vec<_>>();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for h in &mut hosts {
        h.kill().unwrap();
        h.wait().unwrap();
    }

    // Exactly once: one job per integration, completed on its first attempt, by the
    // queue's own record and by what the provider saw.
    assert!(
        statuses.iter().all(|(s, _)| s == job_status::COMPLETED),
        "{statuses:?}"
    );
    let all = db.sync_jobs(None, 500).await.unwrap();
    assert_eq!(all.len(), INTEGRATIONS, "no duplicate jobs");
    assert!(all.iter().all(|j| j.attempts == 1 && jobs.contains(&j.id)));
    let a = api.lock().unwrap();
    assert_eq!(a.first_pages.len(), INTEGRATIONS);
    assert!(
        a.first_pages.values().all(|n| *n == 1),
        "{:?}",
        a.first_pages
    );
    assert_eq!(a.fetches.len(), INTEGRATIONS * ITEMS);
    assert!(a.fetches.values().all(|n| *n == 1));

    // The declared rate across all three hosts: in any one-second window at most a
    // burst plus a second's worth (GCRA), with two requests of slack for arrival jitter.
    let times = &a.arrivals;
    assert_eq!(times.len(), INTEGRATIONS * (ITEMS + 1));
    let window = Duration::from_secs(1);
    let busiest = (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < window)
                .count()
        })
        .max()
        .unwrap();
    assert!(
        busiest <= 2 * PER_SECOND + 2,
        "{busiest} requests within one second"
    );
    let span = times[times.len() - 1] - times[0];
    let floor = Duration::from_millis(((times.len() - 2 * PER_SECOND) * 1000 / PER_SECOND) as u64);
    assert!(span >= floor, "{} requests in {span:?}", times.len());
}
