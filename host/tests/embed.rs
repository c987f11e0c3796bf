//! Dense embedders: the local MiniLM model against the similarities its model card
//! publishes, fetched from a (loopback) hub on first use; an OpenAI-compatible endpoint
//! batched, retried and reordered; and hybrid search through the API with it.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::*;
use serde_json::{Value, json};
use tributary::ingest::{
    DenseEmbedder, EmbedderConfig, IndexConfig, LocalEmbedder, OpenAiEmbedder, Role, cosine,
};

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// sbert.net's quick start, computed with all-MiniLM-L6-v2 in sentence-transformers:
/// similarities 0.6660 (0–1), 0.1046 (0–2), 0.1411 (1–2).
const SENTENCES: [&str; 3] = [
    "The weather is lovely today.",
    "It's so sunny outside!",
    "He drove to the stadium.",
];

async fn assert_reference(model: &dyn DenseEmbedder) {
    let v = model
        .embed(&texts(&SENTENCES), Role::Document)
        .await
        .unwrap();
    assert_eq!(v.len(), 3);
    assert!(v.iter().all(|e| e.len() == 384));
    for (i, j, want) in [(0, 1, 0.6660), (0, 2, 0.1046), (1, 2, 0.1411)] {
        let got = cosine(&v[i], &v[j]);
        assert!(
            (got - want).abs() < 0.01,
            "sim({i},{j}) = {got}, want {want}"
        );
    }
    // Unit length, as sentence-transformers normalizes.
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[tokio::test]
async fn works_when_local_minilm_matches_the_model_card() {
    let Some(dir) = test_model() else { return };
    let model = LocalEmbedder::load(&dir).unwrap();
    assert_eq!(model.dimensions(), 384);
    assert_reference(&model).await;
    // Padding in a batch does not change a sentence's vector.
    let alone = model
        .embed(&texts(&SENTENCES[2..]), Role::Query)
        .await
        .unwrap();
    let batch = model.embed(&texts(&SENTENCES), Role::Query).await.unwrap();
    assert!(cosine(&alone[0], &batch[2]) > 0.9999);
}

async fn hub_file(State(dir): State<std::path::PathBuf>, Path(path): Path<String>) -> Response {
    let Some(file) = path.strip_prefix("sentence-transformers/all-MiniLM-L6-v2/resolve/main/")
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match std::fs::read(dir.join(file)) {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::test]
async fn works_when_the_model_is_fetched_from_the_hub_on_first_use() {
    let Some(dir) = test_model() else { return };
    let hub = serve(
        Router::new()
            .route("/{*path}", get(hub_file))
            .with_state(dir.clone()),
    )
    .await;
    let target = tempfile::tempdir().unwrap();
    let model_dir = target.path().join("minilm");
    let model = LocalEmbedder::load_or_fetch(
        &model_dir,
        "sentence-transformers/all-MiniLM-L6-v2",
        &format!("http://{hub}"),
    )
    .await
    .unwrap();
    for f in tributary::ingest::MODEL_FILES {
        assert_eq!(
            std::fs::read(model_dir.join(f)).unwrap(),
            std::fs::read(dir.join(f)).unwrap()
        );
    }
    assert_reference(&model).await;
    // A hub without the model is a clear error, and leaves no partial file behind.
    let err = LocalEmbedder::load_or_fetch(
        &target.path().join("other"),
        "nobody/nothing",
        &format!("http://{hub}"),
    )
    .await
    .err()
    .unwrap();
    assert!(
        format!("{err:#}").contains("nobody/nothing/resolve/main/config.json"),
        "{err:#}"
    );
    assert!(!target.path().join("other/config.json").exists());
}

/// A bag-of-words vector: texts sharing words point the same way.
fn words_vector(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; 64];
    for w in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
    {
        let h = w
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        v[(h % 64) as usize] += 1.0;
    }
    v
}

#[derive(Default)]
struct Fake {
    calls: AtomicUsize,
    /// Statuses to answer before succeeding.
    failures: Mutex<Vec<u16>>,
    batches: Mutex<Vec<usize>>,
    keys: Mutex<Vec<String>>,
}

async fn embeddings(
    State(fake): State<Arc<Fake>>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    fake.calls.fetch_add(1, Ordering::SeqCst);
    if let Some(k) = headers.get("authorization") {
        fake.keys
            .lock()
            .unwrap()
            .push(k.to_str().unwrap().to_string());
    }
    if let Some(status) = fake.failures.lock().unwrap().pop() {
        let mut resp = (
            StatusCode::from_u16(status).unwrap(),
            Json(json!({"error": {"message": "busy"}})),
        )
            .into_response();
        resp.headers_mut()
            .insert("retry-after", "0".parse().unwrap());
        return resp;
    }
    assert_eq!(body["model"], "fake-embed");
    let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap();
    fake.batches.lock().unwrap().push(inputs.len());
    // Out of order on purpose: clients must sort by `index`.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": words_vector(t)}))
        .collect();
    Json(json!({"object": "list", "data": data, "model": "fake-embed", "usage": {"prompt_tokens": 1, "total_tokens": 1}}))
        .into_response()
}

async fn fake_endpoint() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let addr = serve(
        Router::new()
            .route("/v1/embeddings", post(embeddings))
            .with_state(fake.clone()),
    )
    .await;
    (fake, format!("http://{addr}"))
}

#[tokio::test]
async fn works_when_an_openai_endpoint_is_batched_retried_and_reordered() {
    let (fake, url) = fake_endpoint().await;
    let e = OpenAiEmbedder::connect(&url, "fake-embed", Some("sk-test".into()))
        .await
        .unwrap();
    assert_eq!(e.dimensions(), 64);
    assert_eq!(fake.keys.lock().unwrap()[0], "Bearer sk-test");
    fake.batches.lock().unwrap().clear();
    let inputs: Vec<String> = (0..100)
        .map(|i| format!("document number{i} about topic{i}"))
        .collect();
    // A 429 and a 503 first: retried, then answered.
    *fake.failures.lock().unwrap() = vec![503, 429];
    let before = fake.calls.load(Ordering::SeqCst);
    let vectors = e.embed(&inputs, Role::Document).await.unwrap();
    assert_eq!(fake.calls.load(Ordering::SeqCst) - before, 4);
    assert_eq!(*fake.batches.lock().unwrap(), vec![64, 36]);
    for (t, v) in inputs.iter().zip(&vectors) {
        assert_eq!(v, &words_vector(t));
    }
}

#[tokio::test]
async fn errors_when_the_endpoint_refuses_or_is_absent() {
    let (fake, url) = fake_endpoint().await;
    let e = OpenAiEmbedder::connect(&url, "fake-embed", None)
        .await
        .unwrap();
    *fake.failures.lock().unwrap() = vec![400];
    let before = fake.calls.load(Ordering::SeqCst);
    let err = e.embed(&texts(&["x"]), Role::Query).await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err:#}");
    // A client error is not retried.
    assert_eq!(fake.calls.load(Ordering::SeqCst) - before, 1);
    let err = OpenAiEmbedder::connect("http://127.0.0.1:9", "m", None)
        .await
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("probing the embeddings endpoint"),
        "{err:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_search_is_hybrid_with_an_embeddings_endpoint() {
    let (fake, url) = fake_endpoint().await;
    let s = serve_host_with(
        None,
        &[],
        false,
        IndexConfig {
            server: None,
            embedder: EmbedderConfig::OpenAi {
                url,
                model: "fake-embed".into(),
                api_key: None,
            },
        },
    )
    .await;
    let db = &s.state.runtime.services().db;
    let row = user_integration(db, "h@t.test", "paged").await;
    let user = db.user_by_email("h@t.test").await.unwrap().unwrap();
    let key = db.create_api_key(&user).await.unwrap();
    let docs: BTreeMap<&str, &str> = [
        ("d1", "Glaciers carve valleys over thousands of years."),
        ("d2", "Espresso needs finely ground coffee beans."),
        ("d3", "Lighthouses warn ships away from rocky coasts."),
    ]
    .into();
    let contents: Vec<_> = docs
        .iter()
        .map(|(id, body)| tributary::model::Content {
            id: id.to_string(),
            kind: "note".into(),
            title: id.to_string(),
            body: tributary::model::Body::Text(body.to_string()),
            mime_type: "text/plain".into(),
            url: None,
            author: None,
            created_at: None,
            updated_at: None,
            metadata: vec![],
            content_hash: id.to_string(),
        })
        .collect();
    use tributary::sync::Sink;
    s.state.ingest.upsert(&row, &contents).await.unwrap();
    let calls = fake.calls.load(Ordering::SeqCst);
    let resp: Value = reqwest::Client::new()
        .get(format!("{}/api/search", s.base))
        .bearer_auth(&key)
        .query(&[("q", "coffee espresso beans")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resp["mode"], "hybrid");
    assert_eq!(resp["results"][0]["external_id"], "d2", "{resp}");
    // The query itself was embedded by the endpoint.
    assert_eq!(fake.calls.load(Ordering::SeqCst), calls + 1);
}
