//! A walk: page after page from the job's checkpoint. Each page is read in one query
//! (what the index already holds), fetched where the listing does not prove a resource
//! unchanged, handed to the sink in one batch and committed with the next cursor in one
//! transaction. Only a complete full walk deletes what it did not see.

use serde_json::{Value, json};

use super::Source;
use super::engine::{Stop, SyncEngine, lease_ms};
use crate::bindings::PluginError;
use crate::bindings::api::{Content, ListMode, ListRequest, Page};
use crate::db::{Integration as Row, PageWrite, SyncJob, SyncedRecord};
use crate::runtime::CallError;

/// Most per-resource failures kept on a job.
const MAX_RECORDED_FAILURES: usize = 200;

impl SyncEngine {
    /// Walk the integration; returns the sync token of the last page.
    pub(super) async fn walk(
        &self,
        row: &Row,
        job: &mut SyncJob,
        source: &mut dyn Source,
    ) -> Result<Option<String>, Stop> {
        let db = &self.runtime.services().db;
        let incremental = job.mode == "incremental" && row.last_sync_at.is_some();
        let mut req = ListRequest {
            mode: if incremental {
                ListMode::Incremental
            } else {
                ListMode::Full
            },
            cursor: job.cursor.clone(),
            sync_token: if incremental {
                db.sync_token(&row.id).await?
            } else {
                None
            },
            modified_after: if incremental { row.last_sync_at } else { None },
            page_size: self.config.page_size,
        };
        let mut failures: Vec<Value> = job
            .error_details
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        loop {
            let page = source.list(&req).await?;
            let (mut write, contents) = self
                .read_page(row, job, source, &page, &mut failures)
                .await?;
            for s in self.sink.upsert(row, &contents).await? {
                if let Some(r) = write
                    .upserts
                    .iter_mut()
                    .find(|r| r.external_id == s.external_id)
                {
                    r.skipped = Some(s.reason);
                }
            }
            self.sink.delete(row, &write.deleted).await?;
            job.cursor = page.next_cursor.clone();
            job.error_details =
                (!failures.is_empty()).then(|| Value::Array(failures.clone()).to_string());
            let worker = &self.config.worker;
            if !db
                .commit_page(&row.id, job, worker, lease_ms(&self.config), &write)
                .await?
            {
                return Err(Stop::Lost);
            }
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => {
                    if req.mode == ListMode::Full {
                        // Only now, after a complete walk, is "not seen" the same as "deleted".
                        let gone = db.unseen(&row.id, &job.id).await?;
                        self.sink.delete(row, &gone).await?;
                        db.delete_synced(&row.id, &gone).await?;
                    }
                    return Ok(page.sync_token);
                }
            }
        }
    }

    /// Decide each listed resource: unchanged (seen), changed (fetched, to ingest),
    /// gone, or failed (kept as it was, recorded on the job).
    async fn read_page(
        &self,
        row: &Row,
        job: &mut SyncJob,
        source: &mut dyn Source,
        page: &Page,
        failures: &mut Vec<Value>,
    ) -> Result<(PageWrite, Vec<Content>), Stop> {
        let db = &self.runtime.services().db;
        let ids: Vec<&str> = page.resources.iter().map(|r| r.id.as_str()).collect();
        let known = db.synced_page(&row.id, &ids).await?;
        let mut write = PageWrite {
            deleted: page.deleted.clone(),
            ..PageWrite::default()
        };
        let mut contents = Vec::new();
        for r in &page.resources {
            job.resources_found += 1;
            let held = known.get(&r.id);
            let held_version = held.and_then(|(_, v)| v.as_deref());
            if r.content.is_none() && r.version.is_some() && r.version.as_deref() == held_version {
                write.seen.push((r.id.clone(), None));
                continue;
            }
            let content = match &r.content {
                Some(c) => c.clone(),
                None => match source.fetch(&r.id).await {
                    Ok(c) => c,
                    // Gone between the listing and the fetch: treat as deleted.
                    Err(CallError::Plugin(PluginError::NotFound(_))) => {
                        write.deleted.push(r.id.clone());
                        continue;
                    }
                    Err(CallError::Plugin(
                        e @ (PluginError::Other(_)
                        | PluginError::InvalidInput(_)
                        | PluginError::Forbidden(_)),
                    )) => {
                        job.resources_failed += 1;
                        if failures.len() < MAX_RECORDED_FAILURES {
                            failures
                                .push(json!({"id": r.id, "code": e.code(), "error": e.message()}));
                        }
                        // Keep what the index holds: seen, so a full walk does not delete it.
                        write.seen.push((r.id.clone(), None));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            if held.is_some_and(|(hash, _)| *hash == content.content_hash) {
                let moved = r.version.as_deref() != held_version;
                write
                    .seen
                    .push((r.id.clone(), r.version.clone().filter(|_| moved)));
                continue;
            }
            job.resources_synced += 1;
            write.upserts.push(SyncedRecord {
                external_id: r.id.clone(),
                kind: content.kind.clone(),
                hash: content.content_hash.clone(),
                version: r.version.clone(),
                skipped: None,
            });
            contents.push(content);
        }
        Ok((write, contents))
    }
}
