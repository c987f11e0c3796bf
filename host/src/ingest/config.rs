//! How a host indexes: which vector store and which dense embedder, from the
//! environment, and opening them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DenseEmbedder, Ingestor, LocalEmbedder, OpenAiEmbedder};
use crate::index::{EdgeStore, QdrantStore, ServerConfig, VectorStore};

/// The dense embedder, if any.
#[derive(Debug, Clone, Default)]
pub enum EmbedderConfig {
    /// BM25 only.
    #[default]
    None,
    /// A sentence-transformer in `dir`, fetched from `hub`/`repo` when files are missing.
    Local {
        /// Model directory.
        dir: PathBuf,
        /// Hub repository of the model.
        repo: String,
        /// Hub base URL.
        hub: String,
    },
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    OpenAi {
        /// Base URL.
        url: String,
        /// Model name.
        model: String,
        /// Bearer key.
        api_key: Option<String>,
    },
}

/// Vector store and embedder.
#[derive(Debug, Clone, Default)]
pub struct IndexConfig {
    /// A Qdrant server (`QDRANT_URL` and the other `QDRANT_*` settings); the embedded
    /// store under the data dir when unset.
    pub server: Option<ServerConfig>,
    /// Dense embedder.
    pub embedder: EmbedderConfig,
}

impl IndexConfig {
    /// From `QDRANT_URL`, `TRIBUTARY_EMBED_MODEL_DIR` (+ `TRIBUTARY_EMBED_MODEL_REPO`,
    /// `TRIBUTARY_HF_ENDPOINT`) or `TRIBUTARY_EMBED_URL` (+ `TRIBUTARY_EMBED_MODEL`,
    /// `TRIBUTARY_EMBED_API_KEY`). Fails on a malformed `QDRANT_*` setting.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let embedder = if let Some(dir) = var("TRIBUTARY_EMBED_MODEL_DIR") {
            EmbedderConfig::Local {
                dir: dir.into(),
                repo: var("TRIBUTARY_EMBED_MODEL_REPO")
                    .unwrap_or_else(|| "sentence-transformers/all-MiniLM-L6-v2".into()),
                hub: var("TRIBUTARY_HF_ENDPOINT")
                    .unwrap_or_else(|| "https://huggingface.co".into()),
            }
        } else if let Some(url) = var("TRIBUTARY_EMBED_URL") {
            EmbedderConfig::OpenAi {
                url,
                model: var("TRIBUTARY_EMBED_MODEL")
                    .unwrap_or_else(|| "text-embedding-3-small".into()),
                api_key: var("TRIBUTARY_EMBED_API_KEY"),
            }
        } else {
            EmbedderConfig::None
        };
        Ok(Self {
            server: var("QDRANT_URL")
                .map(|url| ServerConfig::from_env(&url))
                .transpose()?,
            embedder,
        })
    }

    /// One line saying what is in effect (no secrets).
    pub fn describe(&self, data_dir: &Path) -> String {
        let store = match &self.server {
            Some(s) => format!(
                "Qdrant server {}, collection `{}`",
                crate::index::redacted(&s.url),
                s.collection
            ),
            None => format!("embedded Qdrant in {}", data_dir.join("index").display()),
        };
        let dense = match &self.embedder {
            EmbedderConfig::None => "BM25 only".to_string(),
            EmbedderConfig::Local { dir, .. } => {
                format!("BM25 + local model {} (hybrid)", dir.display())
            }
            EmbedderConfig::OpenAi { url, model, .. } => {
                format!("BM25 + {model} at {url} (hybrid)")
            }
        };
        format!("{store}, {dense}")
    }

    /// Open the embedder and the store (making the server's collection if needed).
    pub async fn open(&self, data_dir: &Path) -> anyhow::Result<Arc<Ingestor>> {
        let dense: Option<Arc<dyn DenseEmbedder>> = match &self.embedder {
            EmbedderConfig::None => None,
            EmbedderConfig::Local { dir, repo, hub } => Some(Arc::new(
                LocalEmbedder::load_or_fetch(dir, repo, hub).await?,
            )),
            EmbedderConfig::OpenAi {
                url,
                model,
                api_key,
            } => Some(Arc::new(
                OpenAiEmbedder::connect(url, model, api_key.clone()).await?,
            )),
        };
        let size = dense.as_ref().map(|d| d.dimensions());
        let store = self.open_store(data_dir, size).await?;
        Ok(Arc::new(Ingestor::new(store, dense)?))
    }

    /// Open the configured store for dense vectors of `size`.
    pub async fn open_store(
        &self,
        data_dir: &Path,
        size: Option<usize>,
    ) -> anyhow::Result<Arc<dyn VectorStore>> {
        Ok(match &self.server {
            Some(server) => Arc::new(QdrantStore::open(server, size).await?),
            None => {
                let dir = data_dir.join("index");
                Arc::new(tokio::task::spawn_blocking(move || EdgeStore::open(&dir, size)).await??)
            }
        })
    }
}
