//! The Qdrant server backend on its own: an index moved from the embedded store answers
//! the same (library and `tributary index migrate`), hybrid queries keep ownership inside
//! the fusion, racing creators make one collection, a collection made for another
//! embedder or a wrong API key is refused clearly, and a server that is down or slow is
//! a typed transient error that sync jobs wait out and `/health` names.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tributary::index::{
    ChunkMeta, ChunkPoint, EdgeStore, QdrantStore, Query, ServerConfig, Unavailable, VectorStore,
};
use tributary::ingest::{Bm25, Role};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use super::backends::{Backend, drop_collection, fresh_collection, servers};
use super::qdrant_fake::FakeQdrant;
use super::{World, item, seed};

const DIM: usize = 16;

/// A deterministic stand-in for a sentence embedding: words hashed into 16 dimensions
/// with uneven weights (so no two texts tie on cosine).
fn embed(text: &str) -> Vec<f32> {
    let mut v = [0.01f32; DIM];
    for w in text.split_whitespace() {
        let h = w
            .to_lowercase()
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31) ^ b as u32);
        v[h as usize % DIM] += 1.0 + (h >> 8) as f32 % 97.0 / 100.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// Points of two owners' documents, two chunks each, with dense vectors.
fn points() -> Vec<ChunkPoint> {
    let bm25 = Bm25::new().unwrap();
    let docs = [
        (
            "user:a",
            "ia",
            "d1",
            "Glaciers carve valleys over thousands of years",
        ),
        (
            "user:a",
            "ia",
            "d2",
            "Espresso needs finely ground coffee beans",
        ),
        (
            "user:a",
            "ia",
            "d3",
            "The Danube flows through Vienna and Budapest",
        ),
        (
            "org:o",
            "io",
            "d4",
            "Quarterly budget review for the marketing team",
        ),
        (
            "user:b",
            "ib",
            "d5",
            "Secret pistachio gelato recipe with coffee",
        ),
        (
            "user:b",
            "ib",
            "d6",
            "Glaciers and espresso and budget, all of them",
        ),
    ];
    let mut out = Vec::new();
    for (owner, integration, id, text) in docs {
        for chunk in 0..2u64 {
            // Chunks differ in words and length, so no two hits tie (the order of ties
            // depends on how points fell into segments, and RRF turns rank into score).
            let body = format!(
                "{text}, {}",
                ["opening lines", "and the closing remarks of the piece"][chunk as usize]
            );
            let (kind, owner_id) = owner.split_once(':').unwrap();
            out.push(ChunkPoint {
                id: ChunkPoint::id_for(integration, id, chunk as usize),
                sparse: bm25.embed(&body, Role::Document),
                dense: Some(embed(&body)),
                meta: ChunkMeta {
                    owner: owner.into(),
                    owner_kind: kind.into(),
                    owner_id: owner_id.into(),
                    integration_id: integration.into(),
                    provider: "paged".into(),
                    external_id: id.into(),
                    kind: "document".into(),
                    title: id.into(),
                    url: None,
                    author: None,
                    chunk_index: chunk,
                    chunk_offset: 0,
                    created_at: Some(1_000 * chunk as i64),
                    updated_at: Some(1_000 * chunk as i64),
                    indexed_at: 5,
                    text: Some(body),
                },
            });
        }
    }
    out
}

async fn fill(store: &dyn VectorStore) {
    let mut by_integration: std::collections::BTreeMap<String, Vec<ChunkPoint>> =
        Default::default();
    for p in points() {
        by_integration
            .entry(p.meta.integration_id.clone())
            .or_default()
            .push(p);
    }
    for (integration, ps) in by_integration {
        let mut ids: Vec<String> = ps.iter().map(|p| p.meta.external_id.clone()).collect();
        ids.dedup();
        store.replace(&integration, &ids, ps).await.unwrap();
    }
}

/// Answers to a fixed set of queries: (external id, chunk, score) per hit.
async fn answers(store: &dyn VectorStore) -> Vec<Vec<(String, u64, f32)>> {
    let bm25 = Bm25::new().unwrap();
    let mut out = Vec::new();
    for text in [
        "glaciers valleys",
        "coffee espresso",
        "budget",
        "Vienna",
        "pistachio",
    ] {
        for (owners, hybrid, from) in [
            (vec!["user:a".to_string(), "org:o".to_string()], false, None),
            (vec!["user:a".to_string(), "org:o".to_string()], true, None),
            (vec!["user:b".to_string()], true, Some(500)),
        ] {
            let q = Query {
                owners,
                sparse: bm25.embed(text, Role::Query),
                dense: hybrid.then(|| embed(text)),
                updated_from: from,
                limit: 5,
                ..Query::default()
            };
            let hits = store.search(&q).await.unwrap();
            out.push(
                hits.into_iter()
                    .map(|h| (h.meta.external_id, h.meta.chunk_index, h.score))
                    .collect(),
            );
        }
    }
    out
}

/// The same hits with the same scores; hits of equal score may come in either order
/// (it depends on how points fell into segments).
fn assert_same(a: &[Vec<(String, u64, f32)>], b: &[Vec<(String, u64, f32)>]) {
    assert_eq!(a.len(), b.len());
    let canonical = |v: &[(String, u64, f32)]| {
        let mut v = v.to_vec();
        v.sort_by(|x, y| {
            y.2.total_cmp(&x.2)
                .then_with(|| x.0.cmp(&y.0))
                .then(x.1.cmp(&y.1))
        });
        v
    };
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (canonical(x), canonical(y));
        let ids =
            |v: &[(String, u64, f32)]| v.iter().map(|h| (h.0.clone(), h.1)).collect::<Vec<_>>();
        assert_eq!(ids(&x), ids(&y), "{x:?} vs {y:?}");
        for (h, k) in x.iter().zip(&y) {
            assert!((h.2 - k.2).abs() < 1e-4, "{x:?} vs {y:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_an_index_moves_to_a_server_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let edge = EdgeStore::open(dir.path(), Some(DIM)).unwrap();
    fill(&edge).await;
    let before = answers(&edge).await;
    assert!(before.iter().any(|a| !a.is_empty()));
    // B's documents never answer A, even where B's vectors are the nearest.
    for a in before
        .iter()
        .step_by(3)
        .chain(before.iter().skip(1).step_by(3))
    {
        assert!(
            a.iter()
                .all(|(id, ..)| !["d5", "d6"].contains(&id.as_str())),
            "{a:?}"
        );
    }
    for b in servers().await {
        eprintln!("backend: {}", b.name());
        let config = b.server_config().unwrap();
        let server = QdrantStore::open(&config, Some(DIM)).await.unwrap();
        let moved = tributary::index::migrate(&edge, &server, |_| {})
            .await
            .unwrap();
        assert_eq!(
            (moved.source_points, moved.copied, moved.target_after),
            (12, 12, 12)
        );
        assert_same(&before, &answers(&server).await);
        // Again (an interrupted run is simply repeated): nothing doubles.
        let again = tributary::index::migrate(&edge, &server, |_| {})
            .await
            .unwrap();
        assert_eq!((again.target_before, again.target_after), (12, 12));
        // The same points read back, vectors and payload included.
        let mut next = None;
        let mut read = Vec::new();
        loop {
            let page = server.export(next, 5).await.unwrap();
            read.extend(page.points);
            match page.next {
                Some(n) => next = Some(n),
                None => break,
            }
        }
        assert_eq!(read.len(), 12);
        let written = points();
        for p in &read {
            let w = written.iter().find(|w| w.id == p.id).unwrap();
            assert_eq!((&p.meta, &p.sparse), (&w.meta, &w.sparse));
        }
        // Everything written waited for the server.
        if let Some(f) = b.fake() {
            assert_eq!(f.unacknowledged_writes(), 0);
        }
        drop_collection(&config).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_migrate_command_moves_the_embedded_index() {
    let data = tempfile::tempdir().unwrap();
    {
        let edge = EdgeStore::open(&data.path().join("index"), Some(DIM)).unwrap();
        fill(&edge).await;
    }
    let fake = FakeQdrant::start(Some("k-123")).await;
    let collection = fresh_collection();
    let run = |extra: &[&str], key: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["index", "migrate", "--data-dir"])
            .arg(data.path())
            .args(["--to", &fake.url, "--collection", &collection])
            .args(extra)
            .env("QDRANT_API_KEY", key)
            .env_remove("QDRANT_URL")
            .output()
            .unwrap()
    };
    let out = run(&[], "k-123");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("12 points copied"), "{stdout}");
    assert!(
        stdout.contains(&format!("QDRANT_COLLECTION={collection}")),
        "{stdout}"
    );
    // A wrong key is refused with a message that names the setting, not the key.
    let out = run(&[], "wrong-key");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("QDRANT_API_KEY") && !stderr.contains("wrong-key"),
        "{stderr}"
    );

    let edge = EdgeStore::open_as_is(&data.path().join("index")).unwrap();
    let mut config = ServerConfig::new(&fake.url, &collection);
    config.api_key = Some("k-123".into());
    let server = QdrantStore::open(&config, Some(DIM)).await.unwrap();
    assert_eq!(server.count(None).await.unwrap(), 12);
    assert_same(&answers(&edge).await, &answers(&server).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_hosts_race_to_create_the_collection() {
    for b in servers().await {
        let config = b.server_config().unwrap();
        let opens = (0..8).map(|_| QdrantStore::open(&config, Some(DIM)));
        for r in futures::future::join_all(opens).await {
            r.unwrap();
        }
        if let Some(f) = b.fake() {
            assert_eq!(f.created(), 1);
            let mut want: Vec<String> = tributary::index::PAYLOAD_INDEXES
                .iter()
                .map(|(f, _)| f.to_string())
                .collect();
            want.sort();
            assert_eq!(f.indexed_fields(&config.collection), want);
        }
        drop_collection(&config).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_the_collection_was_made_for_another_embedder() {
    for b in servers().await {
        let config = b.server_config().unwrap();
        QdrantStore::open(&config, Some(DIM)).await.unwrap();
        let err = QdrantStore::open(&config, Some(8))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("size 16") && err.contains("makes 8"), "{err}");
        let err = QdrantStore::open(&config, None)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("makes none"), "{err}");
        drop_collection(&config).await;
    }
}

fn unavailable(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Unavailable>().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_slow_server_times_out_as_a_transient_error() {
    let fake = FakeQdrant::start(None).await;
    let mut config = ServerConfig::new(&fake.url, &fresh_collection());
    config.timeout = Duration::from_millis(500);
    let store = QdrantStore::open(&config, None).await.unwrap();
    fake.slow_down(1_500);
    let mut p = points().into_iter().next().unwrap();
    p.dense = None;
    let err = store
        .replace("ia", &["d1".into()], vec![p.clone()])
        .await
        .unwrap_err();
    assert!(unavailable(&err), "{err:#}");
    assert!(store.health().await.is_err());
    fake.slow_down(0);
    store.replace("ia", &["d1".into()], vec![p]).await.unwrap();
    store.health().await.unwrap();
    assert_eq!(store.count(Some("ia")).await.unwrap(), 1);
}

async fn health(w: &World) -> Value {
    let resp = reqwest::get(format!("{}/health", w.s.base)).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_server_goes_down_and_comes_back() {
    let fake = Arc::new(FakeQdrant::start(None).await);
    let b = Backend::Loopback(fake.clone());
    let w = World::new(&b).await;
    seed(&w);
    assert_eq!(health(&w).await["index"], "ok");
    let db = &w.s.state.runtime.services().db;
    let a = w.integrations["a"].id.clone();
    let engine = SyncEngine::new(
        w.s.state.runtime.clone(),
        w.s.state.ingest.clone(),
        EngineConfig {
            backoff_base: Duration::from_millis(100),
            ..EngineConfig::default()
        },
    );

    fake.stop().await;
    let (job, _) = db
        .request_sync(&a, "paged", "full", "manual")
        .await
        .unwrap();
    let (_, outcome) = engine.run_once().await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Delayed);
    let row = db.sync_job(&job.id).await.unwrap().unwrap();
    let msg = row.error_message.clone().unwrap();
    assert!(
        msg.contains("vector store") && msg.contains("unavailable"),
        "{msg}"
    );
    assert_eq!(row.attempts, 0, "an outage costs no attempt");
    assert!(
        db.indexed_ids(&a).await.unwrap().is_empty(),
        "nothing recorded as indexed"
    );
    let h = health(&w).await;
    assert_eq!(
        (h["status"].as_str(), h["index"].as_str()),
        (Some("degraded"), Some("unreachable"))
    );
    assert!(h["reasons"][0].as_str().unwrap().contains(&fake.url), "{h}");
    let (status, body) = w.search("a", &[("q", "Danube")]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );

    fake.restart().await;
    assert_eq!(health(&w).await["status"], "ok");
    // The wait is at least a second; then the same job runs to the end.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (ran, outcome) = engine.run_once().await.unwrap().unwrap();
    assert_eq!(
        (ran.to_string().contains(&job.id), outcome),
        (true, Outcome::Completed)
    );
    assert_eq!(w.ids("a", "Vienna Budapest river").await[0], "a1");
    assert_eq!(db.indexed_ids(&a).await.unwrap().len(), 4);
    w.put("a", item("a6", "Later", "Written after the outage", 1));
    w.sync(&["a"]).await;
    assert_eq!(w.ids("a", "outage").await, vec!["a6"]);
    w.finish().await;
}
