//! The delivery log: redeliveries (same provider delivery id) are acknowledged without
//! new work, on SQLite and PostgreSQL alike; changes to one resource collapse into one
//! job with the latest action; each refusal has its exact status; a
//! delivery of 5,000 changes is answered before its fan-out.

use serde_json::{Value, json};
use tributary::webhooks::Fanout;

use super::common::*;
use super::*;

async fn duplicates_on(db_url: Option<String>) {
    let (s, row, hook) = hooked(db_url, "dups@t.test").await;
    let db = s.state.db();
    let fanout = Fanout::new(db.clone(), &s.state.webhooks);
    let client = reqwest::Client::new();
    let body = json!({"changed": ["a"]});

    let (code, _, first) = post_with(&client, &hook, &body, None, Some("d-1")).await;
    assert_eq!(code, 200);
    let first: Value = serde_json::from_slice(&first).unwrap();
    assert!(first["delivery"].is_string(), "{first}");
    // The provider delivers again (it missed our answer): acknowledged, no new work.
    let (code, _, again) = post_with(&client, &hook, &body, None, Some("d-1")).await;
    assert_eq!(code, 200);
    let again: Value = serde_json::from_slice(&again).unwrap();
    assert_eq!(again["duplicate"], true, "{again}");
    assert!(again.get("delivery").is_none());
    // Concurrent redeliveries of one id: exactly one is new.
    let answers = futures::future::join_all((0..8).map(|_| {
        let (client, hook, body) = (client.clone(), hook.clone(), body.clone());
        async move { post_with(&client, &hook, &body, None, Some("d-2")).await }
    }))
    .await;
    let new = answers
        .iter()
        .filter(|(code, _, b)| {
            *code == 200 && serde_json::from_slice::<Value>(b).unwrap()["delivery"].is_string()
        })
        .count();
    assert_eq!(new, 1);
    // Without a delivery id every delivery is new.
    post_with(&client, &hook, &body, None, None).await;
    post_with(&client, &hook, &body, None, None).await;

    let round = fanout.drain().await.unwrap();
    assert_eq!(round.done, 4, "d-1, d-2 and the two without an id");
    let log = db.deliveries(None, 50).await.unwrap();
    assert_eq!(log.len(), 4);
    let ids: Vec<_> = log.iter().filter_map(|d| d.delivery_id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"d-1".to_string()) && ids.contains(&"d-2".to_string()));
    // A second worker (another replica) finds nothing left to do.
    assert_eq!(fanout.drain().await.unwrap(), Default::default());

    // Changes to one resource routed in one round, within a delivery and across
    // deliveries, collapse into one pending job with the latest action (PostgreSQL
    // refuses a statement that updates one row twice: this is what would break).
    for body in [
        json!({"changed": ["x", "y", "y"], "deleted": ["y"]}),
        json!({"deleted": ["x"]}),
        json!({"changed": ["x", "z"]}),
    ] {
        post_with(&client, &hook, &body, None, None).await;
    }
    assert_eq!(fanout.drain().await.unwrap().done, 3);
    let mut jobs: Vec<(String, String)> = db
        .sync_jobs_where(Some(&row.id), Some("PENDING"), 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|j| Some((j.external_id?, j.action?)))
        .filter(|(id, _)| ["x", "y", "z"].contains(&id.as_str()))
        .collect();
    jobs.sort();
    let want = [("x", "upsert"), ("y", "delete"), ("z", "upsert")];
    let want: Vec<_> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(jobs, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_redelivery_is_acknowledged_without_new_work() {
    duplicates_on(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_redelivery_is_acknowledged_without_new_work_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    duplicates_on(Some(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_deliveries_are_refused_with_their_exact_codes() {
    let (s, _, hook) = hooked(None, "codes@t.test").await;
    let db = s.state.db();

    // Over the body limit: 413 before any plugin runs.
    let big = json!({"changed": ["a"], "pad": "x".repeat(2 << 20)});
    let (code, _, body) = post(&hook, &big, None).await;
    assert_eq!(code, 413);
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"]["code"], "payload_too_large");
    // Signed with another secret: 401.
    let bytes = serde_json::to_vec(&json!({"changed": ["a"]})).unwrap();
    let forged = format!(
        "sha256={}",
        hex::encode(tributary_sdk::signature::hmac_sha256(b"guess", &bytes))
    );
    let (code, _, _) = post(&hook, &json!({"changed": ["a"]}), Some(forged)).await;
    assert_eq!(code, 401);
    // A provider the admin disabled takes no webhooks: 404.
    let mut entry = db.registry_entry("paged").await.unwrap();
    entry.enabled = false;
    db.put_registry_entry(&entry).await.unwrap();
    // Changed behind the API's back (as another replica would): followed within a second.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (code, _, body) = post(&hook, &json!({"changed": ["a"]}), None).await;
    assert_eq!(code, 404);
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"]["code"], "not_found");
    // None of it left a trace.
    assert!(db.deliveries(None, 10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_delivery_of_5000_changes_is_answered_before_its_fan_out() {
    let (s, row, hook) = hooked(None, "many@t.test").await;
    let db = s.state.db();
    let changed: Vec<String> = (0..5_000).map(|i| format!("r-{i}")).collect();
    let (code, _, _) = post(&hook, &json!({ "changed": changed }), None).await;
    assert_eq!(code, 200);
    let log = db.deliveries(None, 10).await.unwrap();
    assert_eq!((log[0].state.as_str(), log[0].changes), ("PENDING", 5_000));
    assert!(db.sync_jobs(Some(&row.id), 10).await.unwrap().is_empty());

    let fanout = Fanout::new(db.clone(), &s.state.webhooks);
    assert_eq!(fanout.drain().await.unwrap().done, 1);
    let jobs = db.sync_jobs(Some(&row.id), 6_000).await.unwrap();
    assert_eq!(jobs.len(), 5_000);
    assert!(jobs.iter().all(|j| j.is_resource() && j.priority == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_delivery_that_cannot_fan_out_is_set_aside_and_the_rest_go_on() {
    let (s, row, hook) = hooked(None, "poison@t.test").await;
    let db = s.state.db();
    // A job for this one resource cannot be written (a trigger stands in for whatever
    // the database may refuse).
    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        s.dir.path().join("tributary.db").display()
    ))
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER poison BEFORE INSERT ON sync_jobs WHEN NEW.external_id = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'poisoned resource'); END",
    )
    .execute(&raw)
    .await
    .unwrap();
    for id in ["ok-1", "poison", "ok-2"] {
        let (code, _, _) = post(&hook, &json!({ "changed": [id] }), None).await;
        assert_eq!(code, 200);
    }
    let round = Fanout::new(db.clone(), &s.state.webhooks)
        .drain()
        .await
        .unwrap();
    assert_eq!((round.done, round.failed), (2, 1));
    let failed = db.deliveries(Some("FAILED"), 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .error
            .as_deref()
            .unwrap()
            .contains("poisoned resource"),
        "{failed:?}"
    );
    let jobs = db.sync_jobs(Some(&row.id), 10).await.unwrap();
    let mut ids: Vec<_> = jobs.iter().filter_map(|j| j.external_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["ok-1", "ok-2"]);
}
