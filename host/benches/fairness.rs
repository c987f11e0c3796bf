//! Fair share (run with `cargo bench -p tributary --bench fairness`): how long a normal
//! integration's manual sync takes, from the request to its completion, while 0, 4 and
//! 16 endless walks (the `misbehave` plugin in `endless` mode) run on 4 workers with a
//! 1 s slice. The target is under one slice plus the sync's own run time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tributary::db::{Caps, Db, job_status};
use tributary::sync::{EngineConfig, SyncEngine};

const RUNS: usize = 5;
const SLICE: Duration = Duration::from_secs(1);

async fn integration(db: &Db, email: &str, mode: &str) -> tributary::db::Integration {
    let row = common::user_integration(db, email, "misbehave").await;
    let config = json!({"mode": mode}).as_object().cloned().unwrap();
    db.update_integration_settings(&row.id, &config, "FULL_CONTENT", "MANUAL")
        .await
        .unwrap();
    row
}

async fn measure(endless: usize) -> Vec<Duration> {
    let t = common::host(None, &["misbehave"], Default::default(), false).await;
    let db = t.runtime.services().db.clone();
    for n in 0..endless {
        let row = integration(&db, &format!("e{n}@b.test"), "endless").await;
        db.request_sync(&row.id, "misbehave", "full", "schedule")
            .await
            .unwrap();
    }
    let config = EngineConfig {
        slice: SLICE,
        caps: Caps::default(),
        ..EngineConfig::default()
    };
    let engine = Arc::new(SyncEngine::new(t.runtime.clone(), t.ingest.clone(), config));
    let workers = engine.spawn(4, Duration::from_secs(3600));
    // Let the endless walks take the workers first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut waits = Vec::new();
    for run in 0..RUNS {
        let row = integration(&db, &format!("n{run}@b.test"), "one").await;
        let start = Instant::now();
        let (job, _) = db
            .request_sync(&row.id, "misbehave", "full", "manual")
            .await
            .unwrap();
        loop {
            let j = db.sync_job(&job.id).await.unwrap().unwrap();
            if j.status == job_status::COMPLETED {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "starved: {j:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        waits.push(start.elapsed());
    }
    workers.stop().await;
    waits.sort();
    waits
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("normal manual sync, request to completion, 4 workers, slice {SLICE:?}, {RUNS} runs");
    for endless in [0, 4, 16] {
        let waits = rt.block_on(measure(endless));
        println!(
            "  {endless:>2} endless walks: median {:>7.1} ms, max {:>7.1} ms",
            waits[RUNS / 2].as_secs_f64() * 1e3,
            waits[RUNS - 1].as_secs_f64() * 1e3
        );
    }
}
