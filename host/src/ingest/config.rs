//! How a host indexes: which vector store and which dense embedder, from the
//! environment, and opening them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DenseEmbedder, Ingestor, LocalEmbedder, OpenAiEmbedder};
use crate::index::{EdgeStore, VectorStore};

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
    /// A Qdrant server (`QDRANT_URL`); the embedded store under the data dir when unset.
    pub qdrant_url: Option<String>,
    /// Dense embedder.
    pub embedder: EmbedderConfig,
}

impl IndexConfig {
    /// From `QDRANT_URL`, `TRIBUTARY_EMBED_MODEL_DIR` (+ `TRIBUTARY_EMBED_MODEL_REPO`,
    /// `TRIBUTARY_HF_ENDPOINT`) or `TRIBUTARY_EMBED_URL` (+ `TRIBUTARY_EMBED_MODEL`,
    /// `TRIBUTARY_EMBED_API_KEY`).
    pub fn from_env() -> Self {
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
        Self {
            qdrant_url: var("QDRANT_URL"),
            embedder,
        }
    }

    /// One line saying what is in effect (no secrets).
    pub fn describe(&self, data_dir: &Path) -> String {
        let store = match &self.qdrant_url {
            Some(url) => format!("Qdrant server {url}"),
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

    /// Open the embedder and the store.
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
        let store: Arc<dyn VectorStore> = match &self.qdrant_url {
            Some(url) => anyhow::bail!(
                "QDRANT_URL={url}: the Qdrant server backend is not available in this build; \
                 unset QDRANT_URL to use the embedded index"
            ),
            None => {
                let dir = data_dir.join("index");
                Arc::new(tokio::task::spawn_blocking(move || EdgeStore::open(&dir, size)).await??)
            }
        };
        Ok(Arc::new(Ingestor::new(store, dense)?))
    }
}
