//! The vector store: one trait, two backends: the embedded Qdrant engine (`qdrant-edge`,
//! under the data dir, the default) and a Qdrant server (`qdrant-client`, when
//! `QDRANT_URL` is set). Points are chunks; a resource's points are replaced as a whole
//! and every query carries the caller's ownership filter. Both backends build their
//! filters from the same [`Cond`] lists, so they select the same points.

mod edge;
mod edge_req;
mod migrate;
mod server;
mod server_config;
mod server_req;

use std::collections::HashSet;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use edge::EdgeStore;
pub use migrate::{Migrated, migrate};
pub use server::QdrantStore;
pub use server_config::ServerConfig;

/// Payload fields with an index, and whether each is an integer (else a keyword). The
/// ownership, resource and filter fields of every query, and the times.
pub const PAYLOAD_INDEXES: [(&str, bool); 7] = [
    ("owner", false),
    ("integration_id", false),
    ("external_id", false),
    ("provider", false),
    ("updated_at", true),
    ("created_at", true),
    ("indexed_at", true),
];

/// One condition of a filter, in terms both backends translate.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// The keyword field equals the value.
    Is(&'static str, String),
    /// The keyword field equals one of the values.
    AnyOf(&'static str, Vec<String>),
    /// The integer field lies within the bounds (inclusive).
    Between(&'static str, Option<i64>, Option<i64>),
}

/// The points of these resources of an integration.
pub fn resources_conds(integration_id: &str, external_ids: &[String]) -> Vec<Cond> {
    vec![
        Cond::Is("integration_id", integration_id.to_string()),
        Cond::AnyOf("external_id", external_ids.to_vec()),
    ]
}

/// The points of an integration.
pub fn integration_conds(integration_id: &str) -> Vec<Cond> {
    vec![Cond::Is("integration_id", integration_id.to_string())]
}

/// A query's conditions: the caller's owners always, narrowed by the optional filters.
pub fn query_conds(q: &Query) -> Vec<Cond> {
    let mut conds = vec![Cond::AnyOf("owner", q.owners.clone())];
    if let Some(p) = &q.provider {
        conds.push(Cond::Is("provider", p.clone()));
    }
    if let Some(i) = &q.integration_id {
        conds.push(Cond::Is("integration_id", i.clone()));
    }
    if q.updated_from.is_some() || q.updated_to.is_some() {
        conds.push(Cond::Between("updated_at", q.updated_from, q.updated_to));
    }
    conds
}

/// Candidates each side of a hybrid query contributes to the fusion.
pub const PREFETCH_FACTOR: usize = 4;
/// The `k` of reciprocal rank fusion (Qdrant's default).
pub const RRF_K: u32 = 60;

/// The vector store cannot be reached or did not answer in time: the write or read may
/// succeed later, so a sync job waits and retries instead of failing.
#[derive(Debug, thiserror::Error)]
#[error("the vector store ({store}) is unavailable: {reason}")]
pub struct Unavailable {
    /// Which store (`Qdrant server at …`).
    pub store: String,
    /// What went wrong.
    pub reason: String,
    /// The store's own hint of when to retry.
    pub retry_after: Option<std::time::Duration>,
}

/// A URL without its user, password, path or query: safe for logs.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(an invalid URL)".into(),
    }
}

/// One page of points read out of a store, with where the next page starts.
#[derive(Debug, Default)]
pub struct ExportPage {
    /// The points, vectors and payload included.
    pub points: Vec<ChunkPoint>,
    /// The id to continue from; `None` at the end.
    pub next: Option<uuid::Uuid>,
}

/// Name of the sparse (BM25) vector of every point.
pub const SPARSE: &str = "bm25";
/// Name of the dense vector, present when an embedder is configured.
pub const DENSE: &str = "dense";

/// A sparse vector: sorted unique dimension ids and their weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparse {
    /// Dimension ids.
    pub indices: Vec<u32>,
    /// Weights, one per id.
    pub values: Vec<f32>,
}

/// What a point says about its chunk. `text` is absent for METADATA_ONLY integrations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkMeta {
    /// `user:<id>` or `org:<id>`: the one field ownership filters match.
    pub owner: String,
    /// `user` or `org`.
    pub owner_kind: String,
    /// User or organization id.
    pub owner_id: String,
    /// Integration id.
    pub integration_id: String,
    /// Provider id.
    pub provider: String,
    /// The resource's id at the provider.
    pub external_id: String,
    /// Resource kind (`document`, `message`, ...).
    pub kind: String,
    /// Resource title.
    pub title: String,
    /// Link to the resource.
    pub url: Option<String>,
    /// Author's name.
    pub author: Option<String>,
    /// Position of the chunk in the resource, from 0.
    pub chunk_index: u64,
    /// Byte offset of the chunk in the extracted text.
    pub chunk_offset: u64,
    /// Resource creation time, ms.
    pub created_at: Option<i64>,
    /// Resource modification time (creation time when absent), ms.
    pub updated_at: Option<i64>,
    /// When the chunk was indexed, ms.
    pub indexed_at: i64,
    /// The chunk's text (FULL_CONTENT only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// One point to write.
#[derive(Debug, Clone)]
pub struct ChunkPoint {
    /// Stable id: the same resource chunk always gets the same id.
    pub id: uuid::Uuid,
    /// BM25 vector.
    pub sparse: Sparse,
    /// Dense vector, when an embedder is configured.
    pub dense: Option<Vec<f32>>,
    /// Payload.
    pub meta: ChunkMeta,
}

impl ChunkPoint {
    /// The point id of chunk `index` of a resource.
    pub fn id_for(integration_id: &str, external_id: &str, index: usize) -> uuid::Uuid {
        // Length-prefixed parts: no two (integration, resource, index) triples collide.
        let name = format!(
            "{}:{integration_id}{}:{external_id}{index}",
            integration_id.len(),
            external_id.len()
        );
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes())
    }
}

/// A search: vectors of the query, the owners the caller may read, and filters that can
/// only narrow that.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// `user:<id>` / `org:<id>` values; empty finds nothing.
    pub owners: Vec<String>,
    /// BM25 query vector.
    pub sparse: Sparse,
    /// Dense query vector: fused with the sparse ranking (RRF) when present.
    pub dense: Option<Vec<f32>>,
    /// Only this provider.
    pub provider: Option<String>,
    /// Only this integration.
    pub integration_id: Option<String>,
    /// Only resources modified at or after, ms.
    pub updated_from: Option<i64>,
    /// Only resources modified at or before, ms.
    pub updated_to: Option<i64>,
    /// Most hits.
    pub limit: usize,
}

/// A ranked chunk.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Score (BM25, cosine or fused RRF, by query kind).
    pub score: f32,
    /// The chunk's payload.
    pub meta: ChunkMeta,
}

/// A vector store holding chunks of synced resources.
pub trait VectorStore: Send + Sync {
    /// Replace the points of each resource in `external_ids` of `integration_id` with
    /// `points` (which belong to those resources), durably.
    fn replace<'a>(
        &'a self,
        integration_id: &'a str,
        external_ids: &'a [String],
        points: Vec<ChunkPoint>,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Remove every point of these resources.
    fn delete<'a>(
        &'a self,
        integration_id: &'a str,
        external_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Remove every point of an integration.
    fn purge<'a>(&'a self, integration_id: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Ranked chunks for `query`, only ever among `query.owners`.
    fn search<'a>(&'a self, query: &'a Query) -> BoxFuture<'a, anyhow::Result<Vec<Hit>>>;
    /// External ids of the resources that have points in `integration_id`.
    fn resources<'a>(
        &'a self,
        integration_id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<HashSet<String>>>;
    /// Ids of the integrations that have points.
    fn integrations(&self) -> BoxFuture<'_, anyhow::Result<HashSet<String>>>;
    /// Points of an integration (all points when `None`).
    fn count<'a>(&'a self, integration_id: Option<&'a str>)
    -> BoxFuture<'a, anyhow::Result<usize>>;
    /// Up to `limit` points in id order from `from` on, with vectors (for moving an index).
    fn export(
        &self,
        from: Option<uuid::Uuid>,
        limit: usize,
    ) -> BoxFuture<'_, anyhow::Result<ExportPage>>;
    /// Write points as they are (same ids, vectors and payloads), durably.
    fn import(&self, points: Vec<ChunkPoint>) -> BoxFuture<'_, anyhow::Result<()>>;
    /// The size of the dense vectors the store holds, if it holds any.
    fn dense_size(&self) -> Option<usize>;
    /// Whether the store answers now; the error says what is wrong.
    fn health(&self) -> BoxFuture<'_, anyhow::Result<()>>;
    /// What the store is, for logs and messages (no secrets).
    fn describe(&self) -> String;
    /// Whether several host processes may share it (a server), or one owns it.
    fn shared(&self) -> bool;
}
