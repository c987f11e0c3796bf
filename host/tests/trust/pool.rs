//! The instance pool under load (a full pool makes calls wait, never fail), and what an
//! operator sees: `/metrics` for admins, `/health` degraded when due jobs wait too long.

use std::time::Duration;

use serde_json::{Value, json};
use tributary::db::now_ms;
use tributary::sync::{EngineConfig, SyncEngine};

use super::common::*;
use super::integration_with;

fn sign(body: &[u8]) -> String {
    let mac = tributary_sdk::signature::hmac_sha256(b"hook-secret", body);
    format!("sha256={}", hex::encode(mac))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_webhooks_arrive_while_workers_hold_instances() {
    let s = serve_host(None, &["paged", "misbehave"], false).await;
    let services = s.state.runtime.services();
    services.set_secret("paged", "webhook_secret", "hook-secret");
    let db = &services.db;
    let hooked = integration_with(db, "hooked@t.test", "paged", json!({})).await;
    for n in 0..4 {
        let row = integration_with(
            db,
            &format!("w{n}@t.test"),
            "misbehave",
            json!({"mode": "endless"}),
        )
        .await;
        db.request_sync(&row.id, "misbehave", "full", "manual")
            .await
            .unwrap();
    }
    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    let workers = std::sync::Arc::new(engine).spawn(4, Duration::from_secs(3600));
    eventually(
        "four workers run endless walks",
        Duration::from_secs(20),
        async || {
            db.queue_snapshot()
                .await
                .unwrap()
                .running
                .iter()
                .map(|(_, n)| n)
                .sum::<i64>()
                == 4
        },
    )
    .await;

    let url = format!("{}/api/webhooks/integrations/paged/{}", s.base, hooked.id);
    let client = reqwest::Client::new();
    let calls = (0..128).map(|i| {
        let body = serde_json::to_vec(&json!({"changed": [format!("item-{i}")]})).unwrap();
        let req = client
            .post(&url)
            .header("x-hub-signature-256", sign(&body))
            .body(body);
        async move { req.send().await.map(|r| r.status().as_u16()) }
    });
    let answers = futures::future::join_all(calls).await;
    let failed: Vec<_> = answers.iter().filter(|a| !matches!(a, Ok(200))).collect();
    assert!(failed.is_empty(), "every delivery gets its 2xx: {failed:?}");

    // What an operator sees of it.
    let (_, key) = user_with_key(db, "ops@t.test", true).await;
    let (_, user_key) = user_with_key(db, "nosy@t.test", false).await;
    let get = |k: String| {
        let (url, client) = (format!("{}/metrics", s.base), client.clone());
        async move { client.get(url).bearer_auth(k).send().await.unwrap() }
    };
    assert_eq!(get(user_key).await.status(), 403, "metrics are for admins");
    let resp = get(key).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    };
    assert!(
        value("tributary_webhook_deliveries_total{provider=\"paged\",outcome=\"accepted\"}")
            >= 128.0
    );
    assert_eq!(value("tributary_running_jobs{provider=\"misbehave\"}"), 4.0);
    assert!(value("tributary_instance_pool_in_use") >= 4.0);
    assert!(value("tributary_instance_pool_size") == 64.0);
    assert!(
        text.lines()
            .any(|l| l.starts_with("tributary_plugin_call_seconds_bucket{")
                && l.contains("plugin=\"paged\",export=\"webhook\""))
    );
    assert!(text.contains("tributary_queue_jobs{status=\"RUNNING\",priority=\"2\"}"));
    assert!(text.contains("tributary_queue_oldest_due_seconds"));
    // Stopped walks go back to the queue: their outcome is counted.
    workers.stop().await;
    let (_, key) = user_with_key(db, "ops2@t.test", true).await;
    let text = get(key).await.text().await.unwrap();
    assert!(
        text.contains("tributary_jobs_total{provider=\"misbehave\",outcome=\"yielded\"}"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_health_says_degraded_while_due_jobs_wait_too_long() {
    let s = serve_host(None, &["misbehave"], false).await;
    let db = &s.state.runtime.services().db;
    let health = async || -> Value {
        reqwest::get(format!("{}/health", s.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    assert_eq!(health().await["status"], "ok");
    let row = integration_with(db, "late@t.test", "misbehave", json!({"mode": "one"})).await;
    let (job, _) = db
        .request_sync(&row.id, "misbehave", "full", "manual")
        .await
        .unwrap();
    // No worker runs in this host: the job has been due for ten minutes.
    sqlx::query("UPDATE sync_jobs SET run_at = $1 WHERE id = $2")
        .bind(now_ms() - 10 * 60_000)
        .bind(&job.id)
        .execute(db.pool())
        .await
        .unwrap();
    let h = health().await;
    assert_eq!(h["status"], "degraded", "{h}");
    assert!(
        h["reasons"][0].as_str().unwrap().contains("waited 600 s"),
        "{h}"
    );
}
