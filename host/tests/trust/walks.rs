//! Walks a plugin cannot make endless or wrong: repeated cursors, page ceilings,
//! malformed or duplicate resources, content for another id, clamped rate-limit waits,
//! trap causes in words, and both databases behaving the same.

use serde_json::Value;
use tributary::db::{Db, job_status, now_ms};
use tributary::runtime::CallError;
use tributary::sync::{EngineConfig, Outcome};

use super::common::{self, *};
use super::{engine, limits, misbehave, sync_once};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_gives_back_the_cursor_it_was_given() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let row = misbehave(db, "cursor@t.test", "same-cursor").await;
    let e = engine(&t, EngineConfig::default());
    let (outcome, job) = sync_once(&e, db, &row).await;
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(job.status, job_status::FAILED);
    let msg = job.error_message.unwrap();
    assert!(
        msg.contains("`misbehave`") && msg.contains("\"c0\""),
        "names plugin and cursor: {msg}"
    );
    // What was committed before the repeat stays.
    let held = db.synced_all(&row.id).await.unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_walk_passes_its_page_ceiling_and_keeps_what_it_committed() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let row = misbehave(db, "ceiling@t.test", "endless").await;
    let config = EngineConfig {
        max_walk_pages: 40,
        ..EngineConfig::default()
    };
    let e = engine(&t, config);
    let (outcome, job) = sync_once(&e, db, &row).await;
    assert_eq!(outcome, Outcome::Failed);
    let msg = job.error_message.unwrap();
    assert!(
        msg.contains("40 pages") && msg.contains("misbehave"),
        "{msg}"
    );
    assert_eq!(db.synced_all(&row.id).await.unwrap().len(), 40);
    let points = t.ingest.store().resources(&row.id).await.unwrap();
    assert_eq!(points.len(), 40, "nothing deleted by an incomplete walk");
    let row = db.integration_by_id(&row.id).await.unwrap().unwrap();
    assert!(row.last_error.unwrap().contains("40 pages"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_walk_passes_its_time_ceiling() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let row = misbehave(db, "slow@t.test", "endless").await;
    let config = EngineConfig {
        max_walk_time: std::time::Duration::from_millis(300),
        ..EngineConfig::default()
    };
    let e = engine(&t, config);
    let (outcome, job) = sync_once(&e, db, &row).await;
    assert_eq!(outcome, Outcome::Failed);
    assert!(job.error_message.unwrap().contains("without finishing"));
    assert!(job.pages > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_one_resource_of_a_page_is_malformed() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let row = misbehave(db, "bigid@t.test", "big-id").await;
    let e = engine(&t, EngineConfig::default());
    let (outcome, job) = sync_once(&e, db, &row).await;
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!((job.resources_found, job.resources_failed), (5, 1));
    assert_eq!(held(db, &row.id).await, ["a", "b", "c", "d"]);
    let details: Value = serde_json::from_str(&job.error_details.unwrap()).unwrap();
    let failure = &details[0];
    assert_eq!(failure["code"], "plugin_malformed_result");
    assert!(failure["error"].as_str().unwrap().contains("resource id"));
    assert!(failure["id"].as_str().unwrap().len() <= 120, "id cut short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_one_fetch_crashes_the_plugin() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let row = misbehave(db, "crash@t.test", "fetch-trap").await;
    let e = engine(&t, EngineConfig::default());
    let (outcome, job) = sync_once(&e, db, &row).await;
    assert_eq!(outcome, Outcome::Completed, "{:?}", job.error_message);
    assert_eq!(job.resources_failed, 1);
    let details = job.error_details.unwrap();
    assert!(
        details.contains("plugin_trap") && details.contains("crashed fetching boom"),
        "{details}"
    );
    assert_eq!(held(db, &row.id).await, ["ok1", "ok2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_fetch_answers_for_another_id() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let row = misbehave(db, "wrongid@t.test", "wrong-id").await;
    let e = engine(&t, EngineConfig::default());
    let (outcome, job) = sync_once(&e, db, &row).await;
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(job.resources_failed, 1);
    assert!(job.error_details.unwrap().contains("someone-else"));
    assert!(db.synced_all(&row.id).await.unwrap().is_empty());
    let points = t.ingest.store().resources(&row.id).await.unwrap();
    assert!(points.is_empty(), "nothing indexed: {points:?}");
}

async fn duplicate_ids_on(db_url: Option<String>) {
    let t = host(db_url, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let row = misbehave(db, "dups@t.test", "dup-ids").await;
    let e = engine(&t, EngineConfig::default());
    let (outcome, job) = sync_once(&e, db, &row).await;
    assert_eq!(outcome, Outcome::Completed, "{:?}", job.error_message);
    assert_eq!(job.resources_failed, 1);
    assert!(job.error_details.unwrap().contains("duplicate_id"));
    let mut held = db.synced_all(&row.id).await.unwrap();
    held.sort();
    let ids: Vec<_> = held.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["dup", "solo"], "the first `dup` kept, not deleted");
    let first = tributary_sdk::Content::text("dup", "note", "dup", "body 0").content_hash;
    assert_eq!(held[0].1, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_page_repeats_ids_on_sqlite_and_postgres_alike() {
    duplicate_ids_on(None).await;
    if let Some(url) = fresh_postgres().await {
        duplicate_ids_on(Some(url)).await;
    }
}

/// Run the queue until the job is not pending any more, making every delay due at once.
async fn settle(db: &Db, e: &tributary::sync::SyncEngine, job: &str, rounds: usize) -> String {
    for _ in 0..rounds {
        sqlx::query("UPDATE sync_jobs SET run_at = 0 WHERE id = $1 AND status = 'PENDING'")
            .bind(job)
            .execute(db.pool())
            .await
            .unwrap();
        if e.run_once().await.unwrap().is_none() {
            break;
        }
    }
    db.sync_job(job).await.unwrap().unwrap().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_retry_after_is_clamped_and_refunds_end() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let config = EngineConfig {
        max_rate_limit_refunds: 2,
        ..EngineConfig::default()
    };
    let e = engine(&t, config);
    for (mode, email) in [
        ("retry-zero", "zero@t.test"),
        ("retry-forever", "max@t.test"),
    ] {
        let row = misbehave(db, email, mode).await;
        let before = now_ms();
        let (outcome, job) = sync_once(&e, db, &row).await;
        assert_eq!(outcome, Outcome::Delayed);
        let wait = job.run_at - before;
        assert!(
            (1_000..=3_600_000 + 5_000).contains(&wait),
            "{mode}: waits {wait} ms, within 1 s ..= 1 h"
        );
        // Two refunded waits, then each wait is an attempt: dead after three.
        assert_eq!(
            settle(db, &e, &job.id, 20).await,
            job_status::DEAD,
            "{mode}"
        );
        let job = db.sync_job(&job.id).await.unwrap().unwrap();
        assert_eq!(job.rate_waits, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_cause_of_each_trap() {
    let t = host(None, &["misbehave"], limits(), false).await;
    for (mode, arg, cause) in [
        ("recurse", "", "stack overflow"),
        ("oob", "", "out-of-bounds memory access"),
        ("unreachable", "", "unreachable instruction"),
        ("div0", "", "divide by zero"),
        ("panic", "", "misbehave panicked on purpose"),
    ] {
        let config = vec![("mode".into(), mode.into()), ("arg".into(), arg.into())];
        let integration = tributary::runtime::Integration::new("trap", config);
        let mut s = t
            .runtime
            .session("misbehave", Some(integration))
            .await
            .unwrap();
        let err = s.list(&common::full(10)).await.unwrap_err();
        assert!(matches!(err, CallError::Trap { .. }), "{mode}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(cause), "{mode}: {msg}");
        assert!(!msg.ends_with("backtrace:"), "{mode}: {msg}");
    }
}
