//! The vector store backends the suite runs on: the embedded store always, a Qdrant
//! server on loopback always, and the server at `QDRANT_TEST_URL` when it is set.

use std::sync::Arc;

use tributary::index::{QdrantStore, ServerConfig};
use tributary::ingest::{EmbedderConfig, IndexConfig};

use super::qdrant_fake::FakeQdrant;

/// Where a test's index lives.
pub enum Backend {
    /// `qdrant-edge` under the host's data dir.
    Embedded,
    /// The loopback Qdrant (gRPC API over Qdrant's engine).
    Loopback(Arc<FakeQdrant>),
    /// A real Qdrant server.
    Server(String),
}

/// The server at `QDRANT_TEST_URL`, or `None` with a loud note.
pub fn qdrant_test_url() -> Option<String> {
    match std::env::var("QDRANT_TEST_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED: the Qdrant server runs of this test (QDRANT_TEST_URL is unset); \
                 it ran on the embedded store and the loopback Qdrant"
            );
            None
        }
    }
}

/// Every backend this run has.
pub async fn backends() -> Vec<Backend> {
    let mut all = vec![
        Backend::Embedded,
        Backend::Loopback(Arc::new(FakeQdrant::start(None).await)),
    ];
    all.extend(qdrant_test_url().map(Backend::Server));
    all
}

/// The servers this run has (the loopback one and `QDRANT_TEST_URL`).
pub async fn servers() -> Vec<Backend> {
    let mut all = backends().await;
    all.retain(|b| !matches!(b, Backend::Embedded));
    all
}

/// A collection name no other test run uses.
pub fn fresh_collection() -> String {
    format!("tributary_test_{}", uuid::Uuid::new_v4().simple())
}

impl Backend {
    /// For messages.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Loopback(_) => "loopback Qdrant",
            Backend::Server(_) => "Qdrant server (QDRANT_TEST_URL)",
        }
    }

    /// The gRPC URL of a server backend.
    pub fn url(&self) -> Option<String> {
        match self {
            Backend::Embedded => None,
            Backend::Loopback(f) => Some(f.url.clone()),
            Backend::Server(u) => Some(u.clone()),
        }
    }

    /// The loopback server, to stop or slow it.
    pub fn fake(&self) -> Option<&FakeQdrant> {
        match self {
            Backend::Loopback(f) => Some(f),
            _ => None,
        }
    }

    /// A fresh collection on this backend (a fresh host brings its own embedded store).
    pub fn server_config(&self) -> Option<ServerConfig> {
        let mut config = ServerConfig::new(&self.url()?, &fresh_collection());
        if let Backend::Server(_) = self {
            config.api_key = std::env::var("QDRANT_TEST_API_KEY").ok();
        }
        Some(config)
    }

    /// The index settings of a host on this backend, BM25 only.
    pub fn index(&self) -> IndexConfig {
        IndexConfig {
            server: self.server_config(),
            embedder: EmbedderConfig::None,
        }
    }
}

/// Remove a test's collection.
pub async fn drop_collection(server: &ServerConfig) {
    let store = QdrantStore::open_as_is(server).await.unwrap();
    store.drop_collection().await.unwrap();
}
