//! Two host processes on one PostgreSQL database and one Qdrant server: both start (no
//! embedded-index owner refuses the second), they make one collection between them,
//! share the sync queue, and every resource either of them synced is searchable from
//! the shared collection, records and points agreeing.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::json;
use tributary::db::{Connect, Db, Owner, job_status};
use tributary::index::{QdrantStore, ServerConfig, VectorStore};
use tributary::ingest::{Ingestor, Search};

use super::backends::{drop_collection, fresh_collection};
use super::common::*;
use super::qdrant_fake::FakeQdrant;
use super::{Corpus, item, list};

const INTEGRATIONS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_two_host_processes_share_one_server_and_one_database() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let fake = FakeQdrant::start(None).await;
    let collection = fresh_collection();
    let corpus: Corpus = Default::default();
    let addr = serve(
        Router::new()
            .route("/items", get(list))
            .with_state(corpus.clone()),
    )
    .await;
    let db = Db::connect(&url).await.unwrap();
    db.save_provider_settings("paged", &base_override("https://api.paged.test", addr))
        .await
        .unwrap();
    let mut owners = BTreeMap::new();
    for n in 0..INTEGRATIONS {
        let name = format!("c{n:02}");
        corpus.lock().unwrap().insert(
            name.clone(),
            (0..3)
                .map(|i| {
                    let id = format!("{name}-{i}");
                    let body = format!("Report {i} of collection zq{name} on tidal energy");
                    (id.clone(), item(&id, &id, &body, 1))
                })
                .collect(),
        );
        let user = db
            .create_user(&format!("s{n}@t.test"), false)
            .await
            .unwrap();
        let mut config = serde_json::Map::new();
        config.insert("collection".into(), json!(name));
        let owner = Owner::User(user.id.clone());
        let row = db
            .connect_integration(Connect {
                owner: &owner,
                provider: "paged",
                user_id: &user.id,
                config: &config,
                account: ("a", "a"),
            })
            .await
            .unwrap();
        db.request_sync(&row.id, "paged", "full", "manual")
            .await
            .unwrap();
        owners.insert(name, (format!("user:{}", user.id), row.id));
    }

    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let key = "22".repeat(32);
    let mut hosts: Vec<_> = dirs
        .iter()
        .map(|d| {
            let plugins = d.path().join("plugins");
            std::fs::create_dir_all(&plugins).unwrap();
            put_file(
                &plugins,
                &std::fs::read(component("paged")).unwrap(),
                "paged.wasm",
            );
            spawn_serve(
                d.path(),
                &[
                    ("DATABASE_URL", Some(url.as_str())),
                    ("TOKEN_ENCRYPTION_KEY", Some(key.as_str())),
                    ("QDRANT_URL", Some(fake.url.as_str())),
                    ("QDRANT_COLLECTION", Some(collection.as_str())),
                    ("TRIBUTARY_ALLOW_SPLIT_INDEX", None),
                ],
            )
        })
        .collect();
    eventually(
        "every sync job completed",
        Duration::from_secs(120),
        async || {
            let jobs = db.sync_jobs(None, 100).await.unwrap();
            jobs.len() == INTEGRATIONS && jobs.iter().all(|j| j.status == job_status::COMPLETED)
        },
    )
    .await;
    // Both are still serving: neither refused to share the index.
    for h in &mut hosts {
        assert!(h.try_wait().unwrap().is_none(), "a host exited");
        h.kill().unwrap();
        h.wait().unwrap();
    }
    assert_eq!(fake.created(), 1, "one collection between them");

    let config = ServerConfig::new(&fake.url, &collection);
    let store = std::sync::Arc::new(QdrantStore::open(&config, None).await.unwrap());
    assert_eq!(store.count(None).await.unwrap(), INTEGRATIONS * 3);
    let report = tributary::ingest::verify(&db, store.as_ref(), false)
        .await
        .unwrap();
    assert!(
        report.clean() && report.resources == INTEGRATIONS * 3,
        "{report:?}"
    );
    let ingest = Ingestor::new(store.clone(), None).unwrap();
    for (name, (owner, _)) in &owners {
        let query = tributary::index::Query {
            owners: vec![owner.clone()],
            limit: 10,
            ..Default::default()
        };
        let hits = ingest
            .search(Search {
                text: format!("zq{name} tidal"),
                query,
            })
            .await
            .unwrap();
        let mut ids: Vec<_> = hits.iter().map(|h| h.meta.external_id.clone()).collect();
        ids.sort();
        assert_eq!(
            ids,
            (0..3).map(|i| format!("{name}-{i}")).collect::<Vec<_>>()
        );
    }
    drop_collection(&config).await;
}
