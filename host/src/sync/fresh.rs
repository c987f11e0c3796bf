//! No stale overwrite: a webhook job and a walk of one integration can fetch the same
//! resource at different times. Writes of an integration are serialized in this process,
//! and under that lock content older than what the index holds (by the provider's
//! modified time) is dropped before it reaches the sink.

use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

use super::engine::{Stop, SyncEngine};
use crate::db::{Integration as Row, PageWrite, SyncJob};
use crate::model::Content;

/// Stripes of the per-integration write lock (bounded, whatever the integration count).
const STRIPES: usize = 64;

/// Locks striped by integration id.
pub(super) struct WriteLocks([Mutex<()>; STRIPES]);

impl Default for WriteLocks {
    fn default() -> Self {
        WriteLocks(std::array::from_fn(|_| Mutex::new(())))
    }
}

impl SyncEngine {
    /// Hold while reading what the index holds, writing the sink and committing records.
    pub(super) async fn writing(&self, integration: &str) -> MutexGuard<'_, ()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        integration.hash(&mut h);
        self.writes.0[(h.finish() as usize) % STRIPES].lock().await
    }

    /// Drop content older than what the index holds (the provider's modified time says
    /// so); the record stays as it is. A walk (`seen`) marks it seen so that its end does
    /// not delete it; a resource job leaves the mark alone (it belongs to the walk).
    pub(super) async fn drop_stale(
        &self,
        row: &Row,
        job: &mut SyncJob,
        write: &mut PageWrite,
        contents: &mut Vec<Content>,
        seen: bool,
    ) -> Result<usize, Stop> {
        let dated: Vec<&str> = contents
            .iter()
            .filter(|c| c.updated_at.is_some())
            .map(|c| c.id.as_str())
            .collect();
        if dated.is_empty() {
            return Ok(0);
        }
        let db = &self.runtime.services().db;
        let held = db.synced_page(&row.id, &dated).await?;
        let stale = |c: &Content| {
            matches!((held.get(&c.id).and_then(|h| h.modified_at), c.updated_at),
                (Some(have), Some(got)) if got < have)
        };
        let gone: Vec<String> = contents
            .iter()
            .filter(|c| stale(c))
            .map(|c| c.id.clone())
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        contents.retain(|c| !gone.contains(&c.id));
        write.upserts.retain(|r| !gone.contains(&r.external_id));
        job.resources_synced -= gone.len() as i64;
        tracing::debug!(job = %job.id, n = gone.len(), "older content than the index holds was not written");
        if seen {
            write.seen.extend(gone.iter().map(|id| (id.clone(), None)));
        }
        Ok(gone.len())
    }
}
