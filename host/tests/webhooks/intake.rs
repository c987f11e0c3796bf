//! The intake flow: the plugin verifies the signature (GitHub-style HMAC here) and says
//! what changed; the delivery is recorded before the 2xx and the webhook worker turns it
//! into resource jobs (collapsed per resource while pending) or an incremental sync at
//! webhook priority; handshakes get the plugin's body; bad signatures and wrong addresses
//! are refused without a trace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tributary::db::{job_status, status};
use tributary::sync::{EngineConfig, NoopSink, Outcome, SyncEngine};
use tributary::webhooks::Fanout;

use super::common::*;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_webhooks_queue_resource_jobs_and_syncs() {
    let s = serve_host(None, &["paged", "misbehave"], false).await;
    let api: Shared = Arc::default();
    for i in 1..=3 {
        api.lock()
            .unwrap()
            .put(&format!("item-{i}"), &format!("first {i}"), 1);
    }
    let addr = fake_api(api.clone()).await;
    let fanout = Fanout::new(s.state.db().clone(), &s.state.webhooks);
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
    assert_eq!(
        fanout.drain().await.unwrap(),
        Default::default(),
        "no trace"
    );
    assert!(db.deliveries(None, 10).await.unwrap().is_empty());
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
        a.put("item-1", "second 1", 2);
        a.put("item-4", "first 4", 2);
        a.items.remove("item-3");
    }
    let (code, _, body) = post(
        &hook,
        &json!({"changed": ["item-1", "item-4"], "deleted": ["item-3"]}),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["received"], true);
    let recorded = answer["delivery"].as_str().unwrap().to_string();
    // Durable before the answer, fanned out only by the worker.
    let log = db.deliveries(None, 10).await.unwrap();
    assert_eq!(
        (log.len(), log[0].id.as_str(), log[0].state.as_str()),
        (1, recorded.as_str(), "PENDING")
    );
    assert_eq!(log[0].changes, 3);
    assert!(
        engine.run_once().await.unwrap().is_none(),
        "no job before fan-out"
    );
    post(&hook, &json!({"changed": ["item-1"]}), None).await;
    let round = fanout.drain().await.unwrap();
    assert_eq!((round.done, round.unmatched), (2, 0));
    let log = db.deliveries(Some("DONE"), 10).await.unwrap();
    assert!(
        log.iter()
            .all(|d| d.queued == 1 && d.processed_at.is_some())
    );
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
        .map(|(id, item)| {
            (
                id.clone(),
                tributary_sdk::Content::text(id, "item", id, &item.body).content_hash,
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
    fanout.drain().await.unwrap();
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
    let (code, _, _) = post(&hook, &json!({"changed": ["item-2"]}), None).await;
    assert_eq!(code, 200);
    let round = fanout.drain().await.unwrap();
    assert_eq!((round.done, round.unmatched), (0, 1));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(engine.run_once().await.unwrap().is_none());

    // Admins see the unmatched delivery; members do not see the log at all.
    let (_, admin) = user_with_key(db, "admin@t.test", true).await;
    let (_, member) = user_with_key(db, "member@t.test", false).await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/admin/webhooks/deliveries?state=UNMATCHED", s.base);
    let listed: Value = client
        .get(&url)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["counts"]["UNMATCHED"], 1);
    assert_eq!(listed["deliveries"][0]["integration_id"], row.id.as_str());
    assert_eq!(listed["deliveries"][0]["changes"], 1);
    let refused = client.get(&url).bearer_auth(&member).send().await.unwrap();
    assert_eq!(refused.status(), 403);
}
