//! Where synced content goes: the ingestion pipeline ([`crate::ingest::Ingestor`]:
//! extract, chunk, embed, vector store) implements [`Sink`]; [`NoopSink`] keeps nothing
//! beyond the synced-resources records (tests of the engine alone). Calls carry a page
//! at a time so an implementation can batch (embedding requests, vector upserts).

use futures::future::BoxFuture;

use crate::db::Integration;
use crate::model::Content;

/// A resource the sink took but holds nothing of (unsupported type, no text): recorded
/// as skipped with the reason, never a failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The resource.
    pub external_id: String,
    /// Why it was not indexed.
    pub reason: String,
}

/// Receives content to index and ids to remove from the index. Both calls must be
/// idempotent: after a crash the engine repeats the page it had not committed.
pub trait Sink: Send + Sync {
    /// Index (or re-index) resources of `integration`; returns those it skipped.
    fn upsert<'a>(
        &'a self,
        integration: &'a Integration,
        contents: &'a [Content],
    ) -> BoxFuture<'a, anyhow::Result<Vec<Skipped>>>;
    /// Remove resources of `integration` from the index.
    fn delete<'a>(
        &'a self,
        integration: &'a Integration,
        external_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// A sink that keeps nothing beyond the synced-resources records.
pub struct NoopSink;

impl Sink for NoopSink {
    fn upsert<'a>(
        &'a self,
        _: &'a Integration,
        _: &'a [Content],
    ) -> BoxFuture<'a, anyhow::Result<Vec<Skipped>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn delete<'a>(
        &'a self,
        _: &'a Integration,
        _: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
