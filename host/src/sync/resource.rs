//! A resource job: one change a webhook announced, applied on its own (fetch and
//! ingest, or delete) without walking the integration.

use super::Source;
use super::engine::{Stop, SyncEngine, lease_ms};
use crate::db::{Integration as Row, PageWrite, SyncJob, SyncedRecord};
use crate::model::PluginError;
use crate::runtime::CallError;

impl SyncEngine {
    /// Apply the job's change to the index.
    pub(super) async fn resource(
        &self,
        row: &Row,
        job: &mut SyncJob,
        source: &mut dyn Source,
    ) -> Result<(), Stop> {
        let db = &self.runtime.services().db;
        let id = job.external_id.clone().unwrap_or_default();
        job.resources_found = 1;
        let mut write = PageWrite::default();
        let content = if job.action.as_deref() == Some("delete") {
            None
        } else {
            match source.fetch(&id).await {
                // Content is bound to the id asked: never indexed under another.
                Ok(c) if c.id != id => {
                    return Err(Stop::Call(CallError::Malformed {
                        plugin: row.provider.clone(),
                        reason: "fetch answered with content for another id".into(),
                    }));
                }
                Ok(c) => Some(c),
                // Announced as changed but gone by now: the source's truth is "deleted".
                Err(CallError::Plugin(PluginError::NotFound(_))) => None,
                Err(e) => return Err(e.into()),
            }
        };
        // From here to the commit, no walk of this integration writes.
        let _writing = self.writing(&row.id).await;
        match content {
            Some(content) => {
                let known = db.synced_page(&row.id, &[id.as_str()]).await?;
                if known
                    .get(&id)
                    .is_none_or(|h| h.hash != content.content_hash)
                {
                    job.resources_synced = 1;
                    write.upserts.push(SyncedRecord {
                        external_id: id.clone(),
                        kind: content.kind.clone(),
                        hash: content.content_hash.clone(),
                        // The listing's version is unknown here; the next walk fetches
                        // this resource once more and stores it.
                        version: None,
                        skipped: None,
                        modified_at: content.updated_at,
                    });
                    let mut contents = vec![content];
                    self.drop_stale(row, job, &mut write, &mut contents, false)
                        .await?;
                    let skipped = self.sink.upsert(row, &contents).await?;
                    if let (Some(r), Some(s)) =
                        (write.upserts.first_mut(), skipped.into_iter().next())
                    {
                        r.skipped = Some(s.reason);
                    }
                }
            }
            None => {
                write.deleted.push(id.clone());
                self.sink.delete(row, &write.deleted).await?;
            }
        }
        let worker = &self.config.worker;
        if !db
            .commit_page(&row.id, job, worker, lease_ms(&self.config), &write)
            .await?
        {
            return Err(Stop::Lost);
        }
        Ok(())
    }
}
