//! Ingestion: the sync engine's [`Sink`]. A page of content is extracted by mime type,
//! chunked, embedded (BM25 always, dense when configured) and written to the vector
//! store, replacing each resource's previous points; search embeds a query the same
//! way and asks the store, under the caller's ownership filter.

mod chunk;
mod config;
mod email;
mod embed;
mod extract;
mod local;
mod office;
mod openai;
mod verify;

use std::sync::Arc;

use futures::future::BoxFuture;

pub use chunk::{Chunk, Chunker};
pub use config::{EmbedderConfig, IndexConfig};
pub use embed::{Bm25, DenseEmbedder, Role, cosine};
pub use extract::{Extracted, Skip, extract};
pub use local::{LocalEmbedder, MODEL_FILES};
pub use openai::OpenAiEmbedder;
pub use verify::{Drift, Report, verify};

use crate::db::Integration;
use crate::db::now_ms;
use crate::index::{ChunkMeta, ChunkPoint, Hit, Query, VectorStore};
use crate::model::Content;
use crate::sync::{Sink, Skipped};

/// Storage strategy that keeps no text.
pub const METADATA_ONLY: &str = "METADATA_ONLY";

/// Extract → chunk → embed → store.
pub struct Ingestor {
    store: Arc<dyn VectorStore>,
    bm25: Bm25,
    dense: Option<Arc<dyn DenseEmbedder>>,
    chunker: Chunker,
}

/// A search as the API receives it, before embedding.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// The words to look for.
    pub text: String,
    /// The store query's filters and limit; its vectors are filled in.
    pub query: Query,
}

impl Ingestor {
    /// An ingestor writing to `store`, with an optional dense embedder.
    pub fn new(
        store: Arc<dyn VectorStore>,
        dense: Option<Arc<dyn DenseEmbedder>>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            bm25: Bm25::new()?,
            dense,
            chunker: Chunker::default(),
        })
    }

    /// The vector store.
    pub fn store(&self) -> &Arc<dyn VectorStore> {
        &self.store
    }

    /// Whether dense vectors are made (hybrid search) or BM25 alone.
    pub fn is_hybrid(&self) -> bool {
        self.dense.is_some()
    }

    /// Ranked chunks for a search.
    pub async fn search(&self, search: Search) -> anyhow::Result<Vec<Hit>> {
        let mut query = search.query;
        query.sparse = self.bm25.embed(&search.text, Role::Query);
        if let Some(dense) = &self.dense {
            let vectors = dense.embed(&[search.text], Role::Query).await?;
            query.dense = vectors.into_iter().next();
        }
        self.store.search(&query).await
    }

    /// Points for one resource with the text each one's vectors are made of, or why
    /// the resource has none.
    async fn points(
        &self,
        integration: &Integration,
        content: &Content,
    ) -> Result<Vec<(ChunkPoint, String)>, Skip> {
        let (mime, body) = (content.mime_type.clone(), content.body.clone());
        // PDF and DOCX parsing is CPU work on hostile bytes: off the async threads.
        let extracted = tokio::task::spawn_blocking(move || extract(&mime, &body))
            .await
            .map_err(|e| Skip(format!("extraction failed: {e}")))??;
        let keep_text = integration.storage_strategy != METADATA_ONLY;
        let now = now_ms();
        Ok(self
            .chunker
            .split(&extracted)
            .into_iter()
            .map(|c| {
                // The title is part of every chunk's vectors (a chunk deep in a document
                // still matches its title) but not of the stored text.
                let indexed = format!("{}\n{}", content.title, c.text);
                let point = ChunkPoint {
                    id: ChunkPoint::id_for(&integration.id, &content.id, c.index),
                    sparse: self.bm25.embed(&indexed, Role::Document),
                    dense: None,
                    meta: ChunkMeta {
                        owner: format!("{}:{}", integration.owner_kind, integration.owner_id),
                        owner_kind: integration.owner_kind.clone(),
                        owner_id: integration.owner_id.clone(),
                        integration_id: integration.id.clone(),
                        provider: integration.provider.clone(),
                        external_id: content.id.clone(),
                        kind: content.kind.clone(),
                        title: content.title.clone(),
                        url: content.url.clone(),
                        author: content.author.as_ref().map(|a| a.name.clone()),
                        chunk_index: c.index as u64,
                        chunk_offset: c.offset as u64,
                        created_at: content.created_at,
                        updated_at: content.updated_at.or(content.created_at),
                        indexed_at: now,
                        text: keep_text.then_some(c.text),
                    },
                };
                (point, indexed)
            })
            .collect())
    }
}

impl Sink for Ingestor {
    fn upsert<'a>(
        &'a self,
        integration: &'a Integration,
        contents: &'a [Content],
    ) -> BoxFuture<'a, anyhow::Result<Vec<Skipped>>> {
        Box::pin(async move {
            let mut points = Vec::new();
            let mut texts = Vec::new();
            let mut skipped = Vec::new();
            for content in contents {
                match self.points(integration, content).await {
                    Ok(p) => {
                        for (point, text) in p {
                            points.push(point);
                            texts.push(text);
                        }
                    }
                    Err(Skip(reason)) => {
                        tracing::info!(integration = %integration.id, resource = %content.id, %reason, "not indexed");
                        skipped.push(Skipped {
                            external_id: content.id.clone(),
                            reason,
                        });
                    }
                }
            }
            if let Some(dense) = &self.dense {
                let vectors = dense.embed(&texts, Role::Document).await?;
                for (p, v) in points.iter_mut().zip(vectors) {
                    p.dense = Some(v);
                }
            }
            // Skipped resources are replaced too: an old version's chunks must not
            // outlive a new version that holds nothing to index.
            let ids: Vec<String> = contents.iter().map(|c| c.id.clone()).collect();
            self.store.replace(&integration.id, &ids, points).await?;
            Ok(skipped)
        })
    }

    fn delete<'a>(
        &'a self,
        integration: &'a Integration,
        external_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        self.store.delete(&integration.id, external_ids)
    }
}
