//! Webhook intake (run with `cargo bench -p tributary --bench webhooks`): verified and
//! durably recorded deliveries per second at 64 connections, and p50/p99 at a fixed
//! 5,000/s, on SQLite and on PostgreSQL (when reachable), next to a plain axum handler
//! answering 200 in the same run. The paged test plugin verifies a GitHub-style HMAC;
//! one change per delivery, each with its own `X-GitHub-Delivery` id; the webhook worker
//! fans out concurrently, as in production. Also: the answer time of one delivery of
//! 5,000 changes. Client and server share the machine (separate tokio runtimes).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::json;

const CONNECTIONS: usize = 64;
const RUN: Duration = Duration::from_secs(10);
const RATE: u64 = 5_000;

static SEQ: AtomicUsize = AtomicUsize::new(0);

struct Report {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    non_2xx: usize,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn request(client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let body = serde_json::to_vec(&json!({ "changed": [format!("r-{n}")] })).unwrap();
    let sig = format!(
        "sha256={}",
        hex::encode(tributary_sdk::signature::hmac_sha256(b"hook-secret", &body))
    );
    client
        .post(url)
        .header("x-hub-signature-256", sig)
        .header("x-github-delivery", format!("bench-{n}"))
        .body(body)
}

async fn send(client: &reqwest::Client, url: &str) -> bool {
    match request(client, url).send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            let _ = r.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

/// As many deliveries as 64 connections carry in [`RUN`].
async fn closed_loop(url: String) -> Report {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let (mut lat, mut bad) = (Vec::new(), 0);
                while start.elapsed() < RUN {
                    let t = Instant::now();
                    if !send(&client, &url).await {
                        bad += 1;
                    }
                    lat.push(t.elapsed());
                }
                (lat, bad)
            })
        })
        .collect();
    let (mut lat, mut bad) = (Vec::new(), 0);
    for t in tasks {
        let (l, b) = t.await.unwrap();
        lat.extend(l);
        bad += b;
    }
    let took = start.elapsed();
    lat.sort();
    Report {
        per_sec: lat.len() as f64 / took.as_secs_f64(),
        p50: pct(&lat, 0.50),
        p99: pct(&lat, 0.99),
        non_2xx: bad,
    }
}

/// [`RATE`] deliveries per second for [`RUN`]; latency from each one's scheduled start
/// (no coordinated omission).
async fn open_loop(url: String) -> Report {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let total = RATE * RUN.as_secs();
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + Duration::from_nanos(i * 1_000_000_000 / RATE);
        tokio::time::sleep_until(due).await;
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let ok = send(&client, &url).await;
            (due.elapsed(), ok)
        }));
    }
    let (mut lat, mut bad) = (Vec::new(), 0);
    for t in tasks {
        let (l, ok) = t.await.unwrap();
        lat.push(l);
        bad += usize::from(!ok);
    }
    let took = start.elapsed();
    lat.sort();
    Report {
        per_sec: lat.len() as f64 / took.as_secs_f64(),
        p50: pct(&lat, 0.50),
        p99: pct(&lat, 0.99),
        non_2xx: bad,
    }
}

fn print(name: &str, r: &Report) {
    println!(
        "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} |",
        r.per_sec,
        r.p50.as_secs_f64() * 1e3,
        r.p99.as_secs_f64() * 1e3,
        r.non_2xx
    );
}

/// A host with the paged plugin, one integration and the webhook worker running; its
/// webhook URL.
async fn host(db_url: Option<String>) -> (common::Served, String) {
    let s = common::serve_host(db_url, &["paged"], false).await;
    s.state
        .runtime
        .services()
        .set_secret("paged", "webhook_secret", "hook-secret");
    let row = common::user_integration(s.state.db(), "bench@w.test", "paged").await;
    let fanout = tributary::webhooks::Fanout::new(s.state.db().clone(), &s.state.webhooks);
    tokio::spawn(fanout.run(std::future::pending()));
    let url = format!("{}/api/webhooks/integrations/paged/{}", s.base, row.id);
    (s, url)
}

async fn big_delivery(url: &str) -> Duration {
    let client = reqwest::Client::new();
    let mut times = Vec::new();
    for run in 0..5 {
        let changed: Vec<String> = (0..5_000).map(|i| format!("big-{run}-{i}")).collect();
        let body = serde_json::to_vec(&json!({ "changed": changed })).unwrap();
        let sig = format!(
            "sha256={}",
            hex::encode(tributary_sdk::signature::hmac_sha256(b"hook-secret", &body))
        );
        let t = Instant::now();
        let r = client
            .post(url)
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        times.push(t.elapsed());
    }
    times.sort();
    times[2]
}

fn main() {
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let plain = server.block_on(async {
        let addr = common::serve(Router::new().route("/hook", post(|| async { "ok" }))).await;
        format!("http://{addr}/hook")
    });
    let (sqlite, sqlite_url) = server.block_on(host(None));
    let pg_url = server.block_on(common::fresh_postgres());
    let postgres = pg_url.map(|u| server.block_on(host(Some(u))));

    println!("| handler | deliveries/s | p50 | p99 | non-2xx |\n|---|---|---|---|---|");
    print(
        "plain axum, 64 connections",
        &client.block_on(closed_loop(plain.clone())),
    );
    print(
        "SQLite, 64 connections",
        &client.block_on(closed_loop(sqlite_url.clone())),
    );
    if let Some((_, url)) = &postgres {
        print(
            "PostgreSQL, 64 connections",
            &client.block_on(closed_loop(url.clone())),
        );
    }
    print("plain axum, 5,000/s", &client.block_on(open_loop(plain)));
    print(
        "SQLite, 5,000/s",
        &client.block_on(open_loop(sqlite_url.clone())),
    );
    if let Some((_, url)) = &postgres {
        print(
            "PostgreSQL, 5,000/s",
            &client.block_on(open_loop(url.clone())),
        );
    }
    let big = client.block_on(big_delivery(&sqlite_url));
    println!(
        "\none delivery of 5,000 changes (SQLite), median of 5: {:.1} ms",
        big.as_secs_f64() * 1e3
    );
    if let Some((_, url)) = &postgres {
        let big = client.block_on(big_delivery(url));
        println!(
            "one delivery of 5,000 changes (PostgreSQL), median of 5: {:.1} ms",
            big.as_secs_f64() * 1e3
        );
    }
    drop((sqlite, postgres));
}
