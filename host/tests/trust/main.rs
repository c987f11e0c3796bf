//! Trust nothing a plugin says (issue 9): runaway walks, per-resource failures, budgets,
//! trap causes, fair share across integrations and owners, the instance pool under
//! load, config changes, pinned OAuth endpoints, scoped egress exemptions, settings
//! across replicas, metrics and health. One test binary: every module links the host
//! once.

#[path = "../common/mod.rs"]
mod common;

mod budgets;
mod fairness;
mod pool;
mod settings;
mod walks;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tributary::db::{Db, Integration, SyncJob};
use tributary::runtime::Limits;
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

/// Instance limits for hostile plugins: short calls, small memory.
pub fn limits() -> Limits {
    Limits {
        call_timeout: Duration::from_secs(5),
        memory_bytes: 64 << 20,
        ..Limits::default()
    }
}

/// A user's integration of `provider` with `config` (frequency MANUAL: only what a test
/// queues runs).
pub async fn integration_with(db: &Db, email: &str, provider: &str, config: Value) -> Integration {
    let row = common::user_integration(db, email, provider).await;
    let config: Map<String, Value> = config.as_object().cloned().unwrap_or_default();
    db.update_integration_settings(&row.id, &config, "FULL_CONTENT", "MANUAL")
        .await
        .unwrap();
    db.integration_by_id(&row.id).await.unwrap().unwrap()
}

/// An integration of `provider` with `config` for an existing user.
pub async fn owned(
    db: &Db,
    user: &tributary::db::User,
    provider: &str,
    config: Value,
) -> Integration {
    let config: Map<String, Value> = config.as_object().cloned().unwrap_or_default();
    let owner = tributary::db::Owner::User(user.id.clone());
    let row = db
        .connect_integration(tributary::db::Connect {
            owner: &owner,
            provider,
            user_id: &user.id,
            config: &config,
            account: ("a", "a"),
        })
        .await
        .unwrap();
    db.update_integration_settings(&row.id, &config, "FULL_CONTENT", "MANUAL")
        .await
        .unwrap();
    db.integration_by_id(&row.id).await.unwrap().unwrap()
}

/// A misbehave integration in `mode`.
pub async fn misbehave(db: &Db, email: &str, mode: &str) -> Integration {
    integration_with(db, email, "misbehave", json!({"mode": mode})).await
}

/// An engine over the test host, writing into its index.
pub fn engine(t: &common::TestHost, config: EngineConfig) -> Arc<SyncEngine> {
    Arc::new(SyncEngine::new(t.runtime.clone(), t.ingest.clone(), config))
}

/// Queue a full manual sync of `row` and run the queue once; the job afterwards.
pub async fn sync_once(engine: &SyncEngine, db: &Db, row: &Integration) -> (Outcome, SyncJob) {
    let (job, _) = db
        .request_sync(&row.id, &row.provider, "full", "manual")
        .await
        .unwrap();
    let (id, outcome) = engine.run_once().await.unwrap().expect("a job to run");
    assert_eq!(id, job.id);
    (outcome, db.sync_job(&job.id).await.unwrap().unwrap())
}
