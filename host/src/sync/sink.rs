//! Where synced content goes. The ingestion pipeline (extract, chunk, embed, vector
//! store) implements [`Sink`]; until then the synced-resources table is the record of
//! what is in the index and [`NoopSink`] stores nothing else. Calls carry a page at a
//! time so an implementation can batch (embedding requests, vector upserts).

use futures::future::BoxFuture;

use crate::bindings::api::Content;
use crate::db::Integration;

/// Receives content to index and ids to remove from the index. Both calls must be
/// idempotent: after a crash the engine repeats the page it had not committed.
pub trait Sink: Send + Sync {
    /// Index (or re-index) resources of `integration`.
    fn upsert<'a>(
        &'a self,
        integration: &'a Integration,
        contents: &'a [Content],
    ) -> BoxFuture<'a, anyhow::Result<()>>;
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
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(
        &'a self,
        _: &'a Integration,
        _: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
