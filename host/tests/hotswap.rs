//! Hot swap under load: the plugin file is replaced by v2, then by a broken file, then
//! removed, while calls keep coming. Only calls after the removal fail.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use tributary::runtime::{CallError, Limits};

type Log = Arc<std::sync::Mutex<Vec<(Instant, Result<String, String>)>>>;

async fn call(rt: &tributary::runtime::Runtime) -> Result<String, CallError> {
    let mut s = rt.session("hello", None).await?;
    Ok(s.list(&full(1)).await?.resources[0].title.clone())
}

fn seen(log: &Log, since: Instant, what: &str) -> bool {
    log.lock()
        .unwrap()
        .iter()
        .any(|(t, r)| *t > since && r.as_deref() == Ok(what))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_plugin_is_swapped_under_load() {
    let t = host(None, &[], Limits::default(), false).await;
    t.put("hello_v1", "hello.wasm");
    t.runtime.scan().await.unwrap();
    t.runtime.watch().unwrap();
    // A session opened on v1 keeps v1 even after the swap.
    let mut old = t.runtime.session("hello", None).await.unwrap();

    let log: Log = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (rt, log, stop) = (t.runtime.clone(), log.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = call(&rt).await.map_err(|e| e.to_string());
                log.lock().unwrap().push((Instant::now(), r));
                tokio::task::yield_now().await;
            }
        }));
    }
    let start = Instant::now();
    eventually("v1 answers", Duration::from_secs(10), async || {
        seen(&log, start, "1.0.0")
    })
    .await;

    let swap = Instant::now();
    t.put("hello_v2", "hello.wasm");
    eventually(
        "v2 answers after the swap",
        Duration::from_secs(30),
        async || seen(&log, swap, "2.0.0"),
    )
    .await;
    assert_eq!(
        old.list(&full(1)).await.unwrap().resources[0].title,
        "1.0.0",
        "in-flight session stays on v1"
    );

    let broken = Instant::now();
    put_file(
        &t.plugins_dir(),
        b"\0asm this is not a component",
        "hello.wasm",
    );
    eventually(
        "the broken file is refused",
        Duration::from_secs(30),
        async || {
            t.runtime
                .files()
                .iter()
                .any(|f| f.file_name == "hello.wasm" && f.status == "refused")
        },
    )
    .await;
    let after_broken = Instant::now();
    eventually("v2 keeps answering", Duration::from_secs(10), async || {
        seen(&log, after_broken, "2.0.0")
    })
    .await;
    assert!(!seen(&log, broken, "1.0.0"), "v1 must not come back");

    let removed = Instant::now();
    std::fs::remove_file(t.plugins_dir().join("hello.wasm")).unwrap();
    eventually(
        "calls fail once removed",
        Duration::from_secs(30),
        async || {
            log.lock()
                .unwrap()
                .iter()
                .any(|(t, r)| *t > removed && r.is_err())
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let log = log.lock().unwrap();
    let failures_before: Vec<_> = log
        .iter()
        .filter(|(t, r)| *t < removed && r.is_err())
        .collect();
    assert!(
        failures_before.is_empty(),
        "calls failed before removal: {failures_before:?}"
    );
    for (_, r) in log.iter().filter(|(t, _)| *t > removed) {
        if let Err(e) = r {
            assert!(e.contains("not installed"), "{e}");
        }
    }
    assert!(
        log.len() > 100,
        "the load was too light to mean anything: {} calls",
        log.len()
    );
    eprintln!("hot swap: {} calls, none failed before removal", log.len());
}
