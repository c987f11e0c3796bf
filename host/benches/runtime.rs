//! Runtime benchmarks (run with `cargo bench -p tributary`): instantiate-and-call overhead
//! of a trivial export with the pooling allocator, and a full Substack sync of a
//! 10,000-entry feed served on loopback. Prints median and p99.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use tributary::runtime::{Integration, Limits};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn report(name: &str, mut samples: Vec<Duration>, unit: &str) {
    samples.sort();
    let scale = |d: Duration| match unit {
        "µs" => d.as_secs_f64() * 1e6,
        _ => d.as_secs_f64() * 1e3,
    };
    println!(
        "{name:<44} n={:<6} median={:>9.2} {unit}  p99={:>9.2} {unit}",
        samples.len(),
        scale(percentile(&samples, 0.5)),
        scale(percentile(&samples, 0.99))
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let t = common::host(None, &["hello_v1", "substack"], Limits::default(), true).await;

    // Instantiate a fresh instance from the cached InstancePre and call `check()`.
    for _ in 0..1_000 {
        let mut s = t.runtime.session("hello", None).await.unwrap();
        s.check().await.unwrap();
    }
    let mut samples = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let start = Instant::now();
        let mut s = t.runtime.session("hello", None).await.unwrap();
        s.check().await.unwrap();
        samples.push(start.elapsed());
    }
    report("instantiate + call check() (pooling)", samples, "µs");

    // Instantiation alone.
    let mut samples = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let start = Instant::now();
        let s = t.runtime.session("hello", None).await.unwrap();
        samples.push(start.elapsed());
        drop(s);
    }
    report("instantiate only (pooling)", samples, "µs");

    // One call on a live instance, for the pure call cost.
    let mut s = t.runtime.session("hello", None).await.unwrap();
    let mut samples = Vec::with_capacity(20_000);
    for _ in 0..20_000 {
        let start = Instant::now();
        s.check().await.unwrap();
        samples.push(start.elapsed());
    }
    report("call check() on a live instance", samples, "µs");

    // Full sync of a 10,000-entry feed: every page listed, content inline.
    let feed = common::rss(10_000);
    let bytes = feed.len();
    let addr = common::serve(Router::new().route("/feed", get(move || async move { feed }))).await;
    let integration = Integration::new(
        "bench",
        vec![("feed_url".into(), format!("http://{addr}/feed"))],
    );
    let mut samples = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let mut s = t
            .runtime
            .session("substack", Some(integration.clone()))
            .await
            .unwrap();
        let mut req = common::full(1000);
        let mut n = 0;
        loop {
            let page = s.list(&req).await.unwrap();
            n += page.resources.len();
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(n, 10_000);
        samples.push(start.elapsed());
    }
    let median = {
        let mut s = samples.clone();
        s.sort();
        percentile(&s, 0.5)
    };
    report(
        &format!("substack full sync, 10k entries ({} KiB)", bytes / 1024),
        samples,
        "ms",
    );
    println!(
        "{:<44} {:.0} resources/s at the median",
        "substack throughput",
        10_000.0 / median.as_secs_f64()
    );
}
