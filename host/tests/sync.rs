//! The sync engine against a fake paginated API with versions (10,000 resources):
//! full and incremental walks converge exactly on the source's truth, unchanged
//! resources are not fetched again, a failing run deletes nothing, and 429s delay the
//! job and set RATE_LIMITED until it completes.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::*;
use serde_json::json;
use tributary::db::{job_status, status};
use tributary::runtime::Limits;
use tributary::sync::{EngineConfig, NoopSink, Outcome, SyncEngine};

#[derive(Clone)]
struct Item {
    title: String,
    body: String,
    version: u64,
    updated: i64,
}

#[derive(Default)]
struct Api {
    items: BTreeMap<String, Item>,
    fetches: usize,
    /// Answer 500 to list pages whose cursor is at or past this id.
    fail_from: Option<String>,
    /// Answer the next continuation page with 429 Retry-After: 1.
    rate_limit_once: bool,
    /// Answer this many of the next continuation pages and fetches with 503.
    storm: usize,
    clock: i64,
}

type Shared = Arc<Mutex<Api>>;

impl Api {
    fn put(&mut self, id: String, body: &str) {
        // Wall-clock milliseconds, strictly increasing: the engine asks for changes since
        // the start of its last complete walk.
        self.clock = tributary::db::now_ms().max(self.clock + 1);
        let version = self.items.get(&id).map(|i| i.version + 1).unwrap_or(1);
        self.items.insert(
            id.clone(),
            Item {
                title: format!("Title {id}"),
                body: body.into(),
                version,
                updated: self.clock,
            },
        );
    }

    fn truth(&self) -> Vec<(String, String)> {
        self.items
            .iter()
            .map(|(id, i)| {
                (
                    id.clone(),
                    tributary_sdk::Content::text(id, "item", &i.title, &i.body).content_hash,
                )
            })
            .collect()
    }
}

async fn list(State(api): State<Shared>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let mut a = api.lock().unwrap();
    let cursor = q.get("cursor").cloned();
    if let (Some(c), Some(f)) = (&cursor, &a.fail_from)
        && c >= f
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, "storm").into_response();
    }
    if cursor.is_some() && a.storm > 0 {
        a.storm -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, "storm").into_response();
    }
    if cursor.is_some() && a.rate_limit_once {
        a.rate_limit_once = false;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "1")],
            "slow down",
        )
            .into_response();
    }
    let limit: usize = q["limit"].parse().unwrap();
    let since: Option<i64> = q.get("since").map(|s| s.parse().unwrap());
    let after = cursor.unwrap_or_default();
    let page: Vec<_> = a
        .items
        .range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
        .filter(|(_, i)| since.is_none_or(|s| i.updated > s))
        .take(limit + 1)
        .map(|(id, i)| (id.clone(), i.clone()))
        .collect();
    let more = page.len() > limit;
    let items: Vec<_> = page
        .iter()
        .take(limit)
        .map(|(id, i)| json!({"id": id, "version": i.version.to_string(), "updated": i.updated}))
        .collect();
    let next = more.then(|| page[limit - 1].0.clone());
    Json(json!({"items": items, "next": next})).into_response()
}

async fn fetch(State(api): State<Shared>, Path(id): Path<String>) -> Response {
    let mut a = api.lock().unwrap();
    if a.storm > 0 {
        a.storm -= 1;
        return (StatusCode::BAD_GATEWAY, "storm").into_response();
    }
    a.fetches += 1;
    match a.items.get(&id) {
        Some(i) => Json(json!({"id": id, "title": i.title, "body": i.body, "updated": i.updated}))
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Rig {
    t: TestHost,
    api: Shared,
    engine: SyncEngine,
    integration: String,
}

async fn rig(n: usize) -> Rig {
    rig_on(None, n).await
}

async fn rig_on(db_url: Option<String>, n: usize) -> Rig {
    let t = host(db_url, &["paged"], Limits::default(), false).await;
    let api: Shared = Arc::default();
    for i in 0..n {
        api.lock()
            .unwrap()
            .put(format!("item-{i:05}"), &format!("body {i}"));
    }
    let router = Router::new()
        .route("/items", get(list))
        .route("/items/{id}", get(fetch))
        .with_state(api.clone());
    let addr = serve(router).await;
    let settings = base_override("https://api.paged.test", addr);
    t.runtime
        .services()
        .set_settings("paged", settings)
        .await
        .unwrap();
    let db = &t.runtime.services().db;
    let row = user_integration(db, "sync@t.test", "paged").await;
    let config = EngineConfig {
        page_size: 500,
        backoff_base: Duration::from_millis(10),
        ..EngineConfig::default()
    };
    let engine = SyncEngine::new(t.runtime.clone(), Arc::new(NoopSink), config);
    Rig {
        t,
        api,
        engine,
        integration: row.id,
    }
}

impl Rig {
    /// Queue a sync and run jobs until none is due within half a second.
    async fn sync(&self, mode: &str) -> Vec<Outcome> {
        let db = &self.t.runtime.services().db;
        db.request_sync(&self.integration, "paged", mode, "manual")
            .await
            .unwrap();
        self.drain().await
    }

    async fn drain(&self) -> Vec<Outcome> {
        let db = &self.t.runtime.services().db;
        let mut outcomes = Vec::new();
        loop {
            if let Some((_, o)) = self.engine.run_once().await.unwrap() {
                outcomes.push(o);
                continue;
            }
            let soon = db
                .sync_jobs(Some(&self.integration), 10)
                .await
                .unwrap()
                .iter()
                .any(|j| {
                    j.status == job_status::PENDING && j.run_at < tributary::db::now_ms() + 500
                });
            if !soon {
                return outcomes;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn synced(&self) -> Vec<(String, String)> {
        self.t
            .runtime
            .services()
            .db
            .synced_all(&self.integration)
            .await
            .unwrap()
    }

    fn fetches(&self) -> usize {
        std::mem::take(&mut self.api.lock().unwrap().fetches)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_full_and_incremental_syncs_converge_on_10k_resources() {
    let r = rig(10_000).await;
    assert_eq!(r.sync("full").await, vec![Outcome::Completed]);
    assert_eq!(r.synced().await, r.api.lock().unwrap().truth());
    assert_eq!(r.fetches(), 10_000);

    // A full walk over an unchanged source fetches nothing.
    assert_eq!(r.sync("full").await, vec![Outcome::Completed]);
    assert_eq!(r.fetches(), 0);

    {
        let mut a = r.api.lock().unwrap();
        for i in (0..10_000).step_by(200) {
            a.put(format!("item-{i:05}"), &format!("changed {i}"));
        }
        for i in (150..10_000).step_by(500) {
            a.items.remove(&format!("item-{i:05}"));
        }
        for i in 0..30 {
            a.put(format!("new-{i:03}"), "fresh");
        }
    }
    // Incremental: the 50 changed and 30 new are fetched, nothing else.
    assert_eq!(r.sync("incremental").await, vec![Outcome::Completed]);
    assert_eq!(r.fetches(), 80);
    let synced = r.synced().await;
    assert_eq!(
        synced.len(),
        10_030,
        "an incremental walk of this API cannot see deletions"
    );
    // Full: deletions found after the complete walk; exactly the source's truth.
    assert_eq!(r.sync("full").await, vec![Outcome::Completed]);
    assert_eq!(r.fetches(), 0);
    assert_eq!(r.synced().await, r.api.lock().unwrap().truth());
    assert_eq!(r.synced().await.len(), 10_010);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_failing_run_would_delete_anything() {
    let r = rig(2_000).await;
    r.sync("full").await;
    {
        let mut a = r.api.lock().unwrap();
        for i in 0..100 {
            a.items.remove(&format!("item-{i:05}"));
        }
        a.fail_from = Some("item-01000".into());
    }
    // Three attempts, each failing mid-walk, then the dead letter.
    assert_eq!(
        r.sync("full").await,
        vec![Outcome::Delayed, Outcome::Delayed, Outcome::Dead]
    );
    assert_eq!(
        r.synced().await.len(),
        2_000,
        "a failed walk deletes nothing"
    );
    let db = &r.t.runtime.services().db;
    let job = &db.sync_jobs(Some(&r.integration), 1).await.unwrap()[0];
    assert_eq!(job.status, job_status::DEAD);
    let dead = db
        .sync_jobs_where(None, Some(job_status::DEAD), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "the dead letter is listed");
    assert!(job.error_message.as_deref().unwrap().contains("500"));
    let i = db.integration_by_id(&r.integration).await.unwrap().unwrap();
    assert!(i.last_error.unwrap().contains("500"));

    // The admin retries the dead job once the storm is over: it resumes and converges.
    r.api.lock().unwrap().fail_from = None;
    assert!(db.retry_dead_job(&job.id).await.unwrap());
    assert_eq!(r.drain().await, vec![Outcome::Completed]);
    assert_eq!(r.synced().await, r.api.lock().unwrap().truth());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_rate_limit_delays_the_job() {
    let r = rig(1_500).await;
    r.api.lock().unwrap().rate_limit_once = true;
    assert_eq!(
        r.sync("full").await,
        vec![Outcome::Delayed],
        "the delayed job waits for Retry-After"
    );
    let db = &r.t.runtime.services().db;
    let i = db.integration_by_id(&r.integration).await.unwrap().unwrap();
    assert_eq!(i.status, status::RATE_LIMITED);
    let job = &db.sync_jobs(Some(&r.integration), 1).await.unwrap()[0];
    assert_eq!(
        (job.status.as_str(), job.cursor.is_some()),
        (job_status::PENDING, true),
        "resumes from its checkpoint"
    );
    assert!(
        r.engine.run_once().await.unwrap().is_none(),
        "not before Retry-After"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        r.engine.run_once().await.unwrap().map(|x| x.1),
        Some(Outcome::Completed)
    );
    assert_eq!(r.synced().await.len(), 1_500);
    assert_eq!(r.fetches(), 1_500, "the resumed walk fetched nothing twice");
    let i = db.integration_by_id(&r.integration).await.unwrap().unwrap();
    assert_eq!(i.status, status::ACTIVE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_scheduler_queues_only_due_integrations() {
    let r = rig(10).await;
    let db = &r.t.runtime.services().db;
    // HOURLY and never synced: due now, as a full walk; queued once.
    assert_eq!(tributary::sync::schedule_due(db).await.unwrap(), 1);
    assert_eq!(
        tributary::sync::schedule_due(db).await.unwrap(),
        0,
        "never two jobs of one integration"
    );
    let job = &db.sync_jobs(Some(&r.integration), 1).await.unwrap()[0];
    assert_eq!(
        (job.mode.as_str(), job.trigger.as_str()),
        ("full", "schedule")
    );
    assert_eq!(r.drain().await, vec![Outcome::Completed]);
    assert_eq!(
        tributary::sync::schedule_due(db).await.unwrap(),
        0,
        "synced a moment ago"
    );

    // Paused or MANUAL integrations are never scheduled.
    let row = db.integration_by_id(&r.integration).await.unwrap().unwrap();
    db.update_integration_settings(&row.id, &row.config, &row.storage_strategy, "FIFTEEN_MIN")
        .await
        .unwrap();
    sqlx::query("UPDATE integrations SET last_sync_at = 0")
        .execute(db.pool())
        .await
        .unwrap();
    db.set_integration_status(&row.id, status::PAUSED, None)
        .await
        .unwrap();
    assert_eq!(tributary::sync::schedule_due(db).await.unwrap(), 0);
    db.set_integration_status(&row.id, status::ACTIVE, None)
        .await
        .unwrap();
    db.update_integration_settings(&row.id, &row.config, &row.storage_strategy, "MANUAL")
        .await
        .unwrap();
    assert_eq!(tributary::sync::schedule_due(db).await.unwrap(), 0);
    db.update_integration_settings(&row.id, &row.config, &row.storage_strategy, "FIFTEEN_MIN")
        .await
        .unwrap();
    assert_eq!(tributary::sync::schedule_due(db).await.unwrap(), 1);
    let job = &db.sync_jobs(Some(&r.integration), 1).await.unwrap()[0];
    assert_eq!(job.mode, "incremental");

    // A manual sync of another integration jumps ahead of the scheduled one.
    let other = user_integration(db, "second@t.test", "paged").await;
    db.request_sync(&other.id, "paged", "full", "manual")
        .await
        .unwrap();
    let first = db.claim_job("w", 60_000).await.unwrap().unwrap();
    assert_eq!(first.integration_id, other.id, "manual first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_queue_runs_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let r = rig_on(Some(url), 1_200).await;
    let db = &r.t.runtime.services().db;
    // Racing requests queue one job; SKIP LOCKED claims hand it to exactly one worker.
    let (a, b) = tokio::join!(
        db.request_sync(&r.integration, "paged", "full", "manual"),
        db.request_sync(&r.integration, "paged", "full", "schedule")
    );
    assert_eq!(a.unwrap().0.id, b.unwrap().0.id);
    let (c1, c2) = tokio::join!(db.claim_job("w1", 60_000), db.claim_job("w2", 60_000));
    let claimed: Vec<_> = [c1.unwrap(), c2.unwrap()].into_iter().flatten().collect();
    assert_eq!(claimed.len(), 1, "one job, one worker");
    sqlx::query("UPDATE sync_jobs SET lease_until = 0")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        r.drain().await,
        vec![Outcome::Completed],
        "an expired lease is taken over"
    );
    assert_eq!(r.synced().await, r.api.lock().unwrap().truth());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_5xx_storm_passes_and_the_job_resumes() {
    let r = rig(1_500).await;
    assert_eq!(r.sync("full").await, vec![Outcome::Completed]);
    r.fetches();
    {
        let mut a = r.api.lock().unwrap();
        for i in (0..1_500).step_by(10) {
            a.put(format!("item-{i:05}"), "changed");
        }
        // The first attempt meets one 5xx (on the first changed item's fetch).
        a.storm = 1;
    }
    let outcomes = r.sync("full").await;
    assert_eq!(outcomes, vec![Outcome::Delayed, Outcome::Completed]);
    let db = &r.t.runtime.services().db;
    let job = &db.sync_jobs(Some(&r.integration), 1).await.unwrap()[0];
    assert_eq!(
        (job.status.as_str(), job.attempts),
        (job_status::COMPLETED, 2)
    );
    assert_eq!(r.fetches(), 150, "only the changed items, each once");
    assert_eq!(r.synced().await, r.api.lock().unwrap().truth());

    // A storm on fetches: transient, retried with backoff from the checkpoint.
    {
        let mut a = r.api.lock().unwrap();
        for i in (5..1_500).step_by(10) {
            a.put(format!("item-{i:05}"), "changed again");
        }
        a.storm = 2;
    }
    let outcomes = r.sync("full").await;
    assert_eq!(
        outcomes,
        vec![Outcome::Delayed, Outcome::Delayed, Outcome::Completed]
    );
    assert_eq!(r.synced().await, r.api.lock().unwrap().truth());

    // A storm that does not pass: three dead jobs in a row put the integration in
    // ERROR; the first success after it brings it back to ACTIVE.
    r.api.lock().unwrap().fail_from = Some("item-00000".into());
    for _ in 0..3 {
        assert_eq!(
            r.sync("full").await,
            vec![Outcome::Delayed, Outcome::Delayed, Outcome::Dead]
        );
    }
    let i = db.integration_by_id(&r.integration).await.unwrap().unwrap();
    assert_eq!(i.status, status::ERROR);
    assert_eq!(r.synced().await.len(), 1_500, "failed runs deleted nothing");
    r.api.lock().unwrap().fail_from = None;
    assert_eq!(r.sync("full").await, vec![Outcome::Completed]);
    let i = db.integration_by_id(&r.integration).await.unwrap().unwrap();
    assert_eq!((i.status.as_str(), i.last_error), (status::ACTIVE, None));
}
