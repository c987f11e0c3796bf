//! Ingestion and search benchmarks (`cargo bench -p tributary --bench index`):
//! 1. ingest throughput (chunks/s) through the production sink, BM25 only and with the
//!    local MiniLM model;
//! 2. ingest chunks/s and search latency p50/p99 over 100,000 chunks, BM25 and hybrid, in
//!    the embedded store, in the Qdrant server at `QDRANT_TEST_URL` when set (a fresh
//!    collection, dropped after), and in the tests' loopback Qdrant (Qdrant's engine behind
//!    the real gRPC API: the client and wire cost, not a server's numbers);
//! 3. retrieval quality on a labelled public-domain set: 231 chapters of the King James
//!    Bible (1611; extracted with Debian's `bible-kjv`) and 53 paraphrased queries with
//!    their chapters; recall@5 and MRR (over distinct chapters) for BM25, dense and hybrid.
//!
//! The MiniLM parts need `TRIBUTARY_TEST_MODEL_DIR` (see `.ci/run`) and are skipped
//! without it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::Deserialize;
use tributary::db::Integration;
use tributary::index::{EdgeStore, QdrantStore, Query, ServerConfig};
use tributary::ingest::{DenseEmbedder, Ingestor, LocalEmbedder, Role, Search};
use tributary::model::{Body, Content};
use tributary::sync::Sink;

// The tests' loopback Qdrant: the server backend's client and wire cost.
#[allow(dead_code)]
#[path = "../tests/search/qdrant_conv.rs"]
mod qdrant_conv;
#[allow(dead_code)]
#[path = "../tests/search/qdrant_fake.rs"]
mod qdrant_fake;
#[path = "../tests/search/qdrant_rpcs.rs"]
mod qdrant_rpcs;

use qdrant_fake::FakeQdrant;

#[derive(Deserialize)]
struct Chapter {
    id: String,
    text: String,
}

#[derive(Deserialize)]
struct Labelled {
    q: String,
    relevant: Vec<String>,
}

fn data<T: for<'de> Deserialize<'de>>(file: &str) -> T {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("benches/data")
        .join(file);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn integration() -> Integration {
    Integration {
        id: "bench".into(),
        owner_kind: "user".into(),
        owner_id: "u".into(),
        provider: "bench".into(),
        status: "ACTIVE".into(),
        storage_strategy: "FULL_CONTENT".into(),
        sync_frequency: "MANUAL".into(),
        config: Default::default(),
        account_id: None,
        account_name: None,
        last_sync_at: None,
        last_error: None,
        webhook_id: None,
        connected_by: "u".into(),
        connected_at: 0,
        updated_at: 0,
    }
}

fn content(id: String, title: &str, text: &str) -> Content {
    Content {
        content_hash: id.clone(),
        id,
        kind: "chapter".into(),
        title: title.into(),
        body: Body::Text(text.into()),
        mime_type: "text/plain".into(),
        url: None,
        author: None,
        created_at: None,
        updated_at: Some(1_700_000_000_000),
        metadata: vec![],
    }
}

/// A cheap 384-dimension bag-of-words embedder: the store does the same work (HNSW,
/// fusion) as with a real model, without the model's cost.
struct Hashed;

impl DenseEmbedder for Hashed {
    fn dimensions(&self) -> usize {
        384
    }
    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        _: Role,
    ) -> BoxFuture<'a, anyhow::Result<Vec<Vec<f32>>>> {
        Box::pin(async move {
            Ok(texts
                .iter()
                .map(|t| {
                    let mut v = vec![0f32; 384];
                    for w in t.split_whitespace() {
                        let h = w
                            .bytes()
                            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
                        v[(h % 384) as usize] += 1.0;
                    }
                    v
                })
                .collect())
        })
    }
}

/// An ingestor over a fresh directory; the directory comes second so a tuple drops the
/// index (which flushes into it) first.
fn ingestor(dense: Option<Arc<dyn DenseEmbedder>>) -> (Ingestor, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = EdgeStore::open(
        &dir.path().join("index"),
        dense.as_ref().map(|d| d.dimensions()),
    )
    .unwrap();
    (Ingestor::new(Arc::new(store), dense).unwrap(), dir)
}

/// An ingestor over a fresh collection on the server at `url`.
async fn server_ingestor(
    url: &str,
    dense: Option<Arc<dyn DenseEmbedder>>,
) -> (Ingestor, Arc<QdrantStore>) {
    let mut config = ServerConfig::new(url, &format!("bench_{}", uuid::Uuid::new_v4().simple()));
    config.api_key = std::env::var("QDRANT_TEST_API_KEY").ok();
    let store = Arc::new(
        QdrantStore::open(&config, dense.as_ref().map(|d| d.dimensions()))
            .await
            .unwrap(),
    );
    (Ingestor::new(store.clone(), dense).unwrap(), store)
}

/// Ingest `copies` copies of the corpus, 100 resources per call; returns (chunks, time).
async fn ingest(ing: &Ingestor, chapters: &[Chapter], copies: usize) -> (usize, Duration) {
    let row = integration();
    let docs: Vec<Content> = (0..copies)
        .flat_map(|c| {
            chapters
                .iter()
                .map(move |ch| content(format!("{}#{c}", ch.id), &ch.id, &ch.text))
        })
        .collect();
    let start = Instant::now();
    for page in docs.chunks(100) {
        ing.upsert(&row, page).await.unwrap();
    }
    let took = start.elapsed();
    (ing.store().count(None).await.unwrap(), took)
}

fn query(text: &str, limit: usize) -> Search {
    Search {
        text: text.into(),
        query: Query {
            owners: vec!["user:u".into()],
            limit,
            ..Default::default()
        },
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn latency(ing: &Ingestor, queries: &[Labelled]) -> (Duration, Duration) {
    let mut times = Vec::new();
    for round in 0..4 {
        for q in queries {
            let start = Instant::now();
            let hits = ing.search(query(&q.q, 10)).await.unwrap();
            if round > 0 {
                times.push(start.elapsed());
            }
            assert!(!hits.is_empty());
        }
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Recall@5 and MRR over distinct chapters (the first chunk of a chapter ranks it).
async fn quality(
    ing: &Ingestor,
    queries: &[Labelled],
    dense_only: Option<&dyn DenseEmbedder>,
) -> (f64, f64) {
    let (mut recall, mut rr) = (0.0, 0.0);
    for q in queries {
        let hits = match dense_only {
            // Dense alone: no sparse terms, so the fusion is the dense ranking.
            Some(d) => {
                let mut s = query(&q.q, 50).query;
                s.dense = d
                    .embed(std::slice::from_ref(&q.q), Role::Query)
                    .await
                    .unwrap()
                    .pop();
                ing.store().search(&s).await.unwrap()
            }
            None => ing.search(query(&q.q, 50)).await.unwrap(),
        };
        let mut seen = HashSet::new();
        let ranked: Vec<String> = hits
            .into_iter()
            .map(|h| h.meta.external_id.split('#').next().unwrap().to_string())
            .filter(|id| seen.insert(id.clone()))
            .collect();
        if ranked.iter().take(5).any(|id| q.relevant.contains(id)) {
            recall += 1.0;
        }
        if let Some(pos) = ranked.iter().position(|id| q.relevant.contains(id)) {
            rr += 1.0 / (pos + 1) as f64;
        }
    }
    let n = queries.len() as f64;
    (recall / n, rr / n)
}

#[tokio::main]
async fn main() {
    let chapters: Vec<Chapter> = data("kjv-chapters.json");
    let queries: Vec<Labelled> = data("kjv-queries.json");
    println!(
        "corpus: {} chapters, {} queries",
        chapters.len(),
        queries.len()
    );
    let model = std::env::var_os("TRIBUTARY_TEST_MODEL_DIR").map(|d| {
        Arc::new(LocalEmbedder::load(&PathBuf::from(d)).unwrap()) as Arc<dyn DenseEmbedder>
    });

    // 1. Ingest throughput.
    let (bm25, _d) = ingestor(None);
    let (chunks, took) = ingest(&bm25, &chapters, 10).await;
    println!(
        "ingest, BM25 only: {chunks} chunks in {took:.2?} = {:.0} chunks/s",
        chunks as f64 / took.as_secs_f64()
    );
    let (bm25, _d) = ingestor(None);
    ingest(&bm25, &chapters, 1).await;
    let mut table = vec![("BM25", quality(&bm25, &queries, None).await)];
    let hybrid = match &model {
        Some(m) => {
            let (hybrid, d) = ingestor(Some(m.clone()));
            let (chunks, took) = ingest(&hybrid, &chapters, 1).await;
            println!(
                "ingest, BM25 + MiniLM (local, CPU): {chunks} chunks in {took:.2?} = {:.1} chunks/s",
                chunks as f64 / took.as_secs_f64()
            );
            table.push((
                "dense (MiniLM)",
                quality(&hybrid, &queries, Some(m.as_ref())).await,
            ));
            table.push(("hybrid (RRF)", quality(&hybrid, &queries, None).await));
            Some((hybrid, d))
        }
        None => {
            println!(
                "SKIPPED: MiniLM ingest and dense/hybrid quality (TRIBUTARY_TEST_MODEL_DIR unset)"
            );
            None
        }
    };
    drop(hybrid);

    // 3. Quality table.
    println!(
        "\n| retrieval ({} queries, {} chapters) | recall@5 | MRR |\n|---|---|---|",
        queries.len(),
        chapters.len()
    );
    for (name, (r, mrr)) in &table {
        println!("| {name} | {r:.3} | {mrr:.3} |");
    }

    // 2. Ingest and latency over 100,000 chunks, on each store.
    let loopback = FakeQdrant::start(None).await;
    let mut stores = vec![("embedded", None)];
    match std::env::var("QDRANT_TEST_URL") {
        Ok(url) if !url.is_empty() => stores.push(("Qdrant server (QDRANT_TEST_URL)", Some(url))),
        _ => println!("\nSKIPPED: the Qdrant server runs (QDRANT_TEST_URL unset)"),
    }
    stores.push(("loopback Qdrant (test double)", Some(loopback.url.clone())));
    println!(
        "\n| store | query | chunks | ingest chunks/s | p50 | p99 |\n|---|---|---|---|---|---|"
    );
    for (store, url) in &stores {
        for (name, dense) in [
            ("BM25", None),
            (
                "hybrid (384-d hashed vectors)",
                Some(Arc::new(Hashed) as Arc<dyn DenseEmbedder>),
            ),
        ] {
            let (ing, dir, server) = match url {
                None => {
                    let (ing, dir) = ingestor(dense);
                    (ing, Some(dir), None)
                }
                Some(url) => {
                    let (ing, store) = server_ingestor(url, dense).await;
                    (ing, None, Some(store))
                }
            };
            let mut copies = 0;
            let mut total = 0;
            let start = Instant::now();
            while total < 100_000 {
                let row = integration();
                let docs: Vec<Content> = chapters
                    .iter()
                    .map(|ch| content(format!("{}#{copies}", ch.id), &ch.id, &ch.text))
                    .collect();
                for page in docs.chunks(100) {
                    ing.upsert(&row, page).await.unwrap();
                }
                copies += 1;
                total = ing.store().count(None).await.unwrap();
            }
            let built = start.elapsed();
            let (p50, p99) = latency(&ing, &queries).await;
            println!(
                "| {store} | {name} | {total} | {:.0} | {p50:.2?} | {p99:.2?} |",
                total as f64 / built.as_secs_f64()
            );
            if let Some(s) = server {
                s.drop_collection().await.unwrap();
            }
            drop(ing);
            drop(dir);
        }
    }
}
