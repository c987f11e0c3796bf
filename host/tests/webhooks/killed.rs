//! `kill -9` under load: 10,000 deliveries fired 64 at a time while the host is killed
//! once and restarted; the sender redelivers whatever got no 2xx, as providers do. Every
//! delivery that got a 2xx is processed exactly once, none is lost, and none that got no
//! 2xx is processed twice.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tributary::db::Db;

use super::common::*;
use super::*;

const N: usize = 10_000;

fn start(dir: &std::path::Path, addr: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["serve", "--addr", addr, "--data-dir"])
        .arg(dir)
        .env_remove("DATABASE_URL")
        .env("TRIBUTARY_SECRET_PAGED__WEBHOOK_SECRET", "hook-secret")
        .env("TRIBUTARY_SYNC_WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn up(client: &reqwest::Client, base: &str) {
    eventually("the host answers", Duration::from_secs(60), async || {
        client.get(format!("{base}/health")).send().await.is_ok()
    })
    .await;
}

/// Whether the delivery got a 2xx, and whether that answer said "duplicate".
async fn deliver(client: &reqwest::Client, hook: &str, i: usize) -> Option<bool> {
    let body = serde_json::to_vec(&json!({ "changed": [format!("c-{i}")] })).unwrap();
    let resp = client
        .post(hook)
        .header("x-hub-signature-256", sign(&body))
        .header("x-github-delivery", format!("d-{i}"))
        .body(body)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let answer: Value = resp.json().await.ok()?;
    Some(answer["duplicate"] == true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_host_is_killed_under_10000_concurrent_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    put_file(
        &plugins,
        &std::fs::read(component("paged")).unwrap(),
        "paged.wasm",
    );
    let db = Db::connect(&Db::sqlite_url(&dir.path().join("tributary.db")))
        .await
        .unwrap();
    let row = user_integration(&db, "killed@t.test", "paged").await;
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let base = format!("http://{addr}");
    let hook = format!("{base}/api/webhooks/integrations/paged/{}", row.id);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut host = start(dir.path(), &addr);
    up(&client, &base).await;
    let acked = Arc::new(AtomicUsize::new(0));
    let kill_at = N / 3;
    let killer = {
        let acked = acked.clone();
        tokio::spawn(async move {
            while acked.load(Ordering::SeqCst) < kill_at {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            host.kill().unwrap(); // SIGKILL: nothing flushed beyond what was committed
            host.wait().unwrap();
        })
    };
    let first: BTreeMap<usize, Option<bool>> = futures::stream::iter(0..N)
        .map(|i| {
            let (client, hook, acked) = (client.clone(), hook.clone(), acked.clone());
            async move {
                let got = deliver(&client, &hook, i).await;
                if got.is_some() {
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                (i, got)
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    killer.await.unwrap();
    let acked_before: Vec<usize> = first
        .iter()
        .filter(|(_, g)| g.is_some())
        .map(|(i, _)| *i)
        .collect();
    assert!(
        acked_before.len() >= kill_at,
        "{} acknowledged",
        acked_before.len()
    );
    assert!(acked_before.len() < N, "the kill landed before the end");
    assert!(
        first.values().flatten().all(|dup| !dup),
        "no duplicates on first delivery"
    );

    // The provider delivers again whatever got no 2xx, until everything has one.
    let mut host = start(dir.path(), &addr);
    up(&client, &base).await;
    let mut missing: Vec<usize> = first
        .iter()
        .filter(|(_, g)| g.is_none())
        .map(|(i, _)| *i)
        .collect();
    let mut duplicates = 0;
    for _ in 0..5 {
        let again: Vec<(usize, Option<bool>)> = futures::stream::iter(missing.clone())
            .map(|i| {
                let (client, hook) = (client.clone(), hook.clone());
                async move { (i, deliver(&client, &hook, i).await) }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        duplicates += again.iter().filter(|(_, g)| *g == Some(true)).count();
        missing = again
            .iter()
            .filter(|(_, g)| g.is_none())
            .map(|(i, _)| *i)
            .collect();
        if missing.is_empty() {
            break;
        }
    }
    assert!(missing.is_empty(), "{} never acknowledged", missing.len());
    eventually(
        "every delivery is fanned out",
        Duration::from_secs(120),
        async || db.pending_deliveries(1).await.unwrap().is_empty(),
    )
    .await;
    host.kill().unwrap();
    host.wait().unwrap();

    // One record per delivery id, each processed once (one integration each).
    let log = db.deliveries(None, 2 * N as i64).await.unwrap();
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for d in &log {
        *per_id.entry(d.delivery_id.clone().unwrap()).or_default() += 1;
        assert_eq!((d.state.as_str(), d.queued), ("DONE", 1), "{d:?}");
    }
    assert_eq!(per_id.len(), N, "none lost");
    assert!(per_id.values().all(|n| *n == 1));
    for i in &acked_before {
        assert!(
            per_id.contains_key(&format!("d-{i}")),
            "acknowledged d-{i} was lost"
        );
    }
    // Exactly one job per announced resource.
    let jobs = db.sync_jobs(Some(&row.id), 2 * N as i64).await.unwrap();
    let mut per_change: BTreeMap<String, usize> = BTreeMap::new();
    for j in jobs.iter().filter(|j| j.is_resource()) {
        *per_change
            .entry(j.external_id.clone().unwrap())
            .or_default() += 1;
    }
    assert_eq!(per_change.len(), N);
    assert!(
        per_change.values().all(|n| *n == 1),
        "a delivery was processed twice"
    );
    eprintln!(
        "acknowledged before the kill: {}, redelivered: {}, of which recorded before the kill: {duplicates}",
        acked_before.len(),
        N - acked_before.len()
    );
}
