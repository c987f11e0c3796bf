//! A walk: page after page from the job's checkpoint. Each page is read in one query
//! (what the index already holds), fetched where the listing does not prove a resource
//! unchanged, handed to the sink in one batch and committed with the next cursor in one
//! transaction. Only a complete full walk deletes what it did not see.
//!
//! Nothing a plugin says is trusted: a cursor that comes back is a runaway walk, and so
//! is a walk past its page or time ceiling; a malformed resource, a duplicate id or a
//! fetch that answers for another id fails that resource only. A walk runs in slices: at
//! the end of one, with other jobs waiting, it gives its worker back.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Source;
use super::engine::{Stop, SyncEngine, lease_ms};
use crate::db::{Integration as Row, PageWrite, SyncJob, SyncedRecord};
use crate::model::PluginError;
use crate::model::{Content, ListMode, ListRequest, Page};
use crate::runtime::{CallError, validate};

/// Most per-resource failures kept on a job.
const MAX_RECORDED_FAILURES: usize = 200;
/// Longest id quoted in a failure or an error message.
const MAX_QUOTED: usize = 120;

/// At most [`MAX_QUOTED`] bytes of `s`, cut on a character boundary.
fn cut(s: &str) -> &str {
    let mut end = s.len().min(MAX_QUOTED);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn quoted(s: &str) -> String {
    match cut(s) {
        short if short.len() < s.len() => format!("{short:?}… ({} bytes)", s.len()),
        _ => format!("{s:?}"),
    }
}

fn record(job: &mut SyncJob, failures: &mut Vec<Value>, id: &str, code: &str, error: String) {
    job.resources_failed += 1;
    if failures.len() < MAX_RECORDED_FAILURES {
        failures.push(json!({"id": cut(id), "code": code, "error": error}));
    }
}

/// Cursors a walk has been given, as hashes (bounded memory whatever their size).
struct Cursors {
    seen: HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
}

impl Cursors {
    fn new() -> Self {
        Cursors {
            seen: HashSet::new(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// False when `c` was seen before in this walk.
    fn first_time(&mut self, c: &str) -> bool {
        self.seen.insert(self.hasher.hash_one(c))
    }
}

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
        let mut cursors = Cursors::new();
        if let Some(c) = &req.cursor {
            cursors.first_time(c);
        }
        let mut slice = (Instant::now(), 0u32);
        loop {
            self.check_ceilings(job)?;
            let page = match source.list(&req).await {
                // The provider no longer knows where the last walk ended (Drive's page
                // token, Gmail's history id, Calendar's 410 sync token): only a full walk,
                // which deletes what it does not see, converges.
                Err(CallError::Plugin(PluginError::NotFound(reason)))
                    if req.mode == ListMode::Incremental =>
                {
                    tracing::warn!(integration = %row.id, %reason,
                        "the provider no longer accepts the sync token; walking in full");
                    if !db.walk_in_full(&job.id, &self.config.worker).await? {
                        return Err(Stop::Lost);
                    }
                    job.mode = "full".into();
                    job.cursor = None;
                    req = ListRequest {
                        mode: ListMode::Full,
                        cursor: None,
                        sync_token: None,
                        modified_after: None,
                        page_size: req.page_size,
                    };
                    cursors = Cursors::new();
                    continue;
                }
                page => page?,
            };
            if let Some(next) = &page.next_cursor
                && !cursors.first_time(next)
            {
                return Err(Stop::Call(CallError::Runaway {
                    plugin: row.provider.clone(),
                    reason: format!(
                        "returned cursor {} a second time in one walk (after {} pages): the walk would never end",
                        quoted(next),
                        job.pages + 1
                    ),
                }));
            }
            let (synced, failed) = (job.resources_synced, job.resources_failed);
            let (mut write, mut contents) = self
                .read_page(row, job, source, &page, &mut failures)
                .await?;
            // From here to the commit, no webhook job of this integration writes.
            let _writing = self.writing(&row.id).await;
            self.drop_stale(row, job, &mut write, &mut contents, true)
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
            job.pages += 1;
            job.error_details =
                (!failures.is_empty()).then(|| Value::Array(failures.clone()).to_string());
            let worker = &self.config.worker;
            if !db
                .commit_page(&row.id, job, worker, lease_ms(&self.config), &write)
                .await?
            {
                return Err(Stop::Lost);
            }
            crate::metrics::resources(
                &row.provider,
                (job.resources_synced - synced) as u64,
                (job.resources_failed - failed) as u64,
            );
            match page.next_cursor {
                Some(c) => {
                    req.cursor = Some(c);
                    if self.stopping() {
                        return Err(Stop::Yield);
                    }
                    slice.1 += 1;
                    if slice.0.elapsed() >= self.config.slice || slice.1 >= self.config.slice_pages
                    {
                        if db.others_waiting(&row.id).await? {
                            return Err(Stop::Yield);
                        }
                        slice = (Instant::now(), 0);
                    }
                }
                None => {
                    if req.mode == ListMode::Full {
                        // Only now, after a complete walk, is "not seen" the same as "deleted".
                        let started = job.started_at.unwrap_or(i64::MAX);
                        let gone = db.unseen(&row.id, &job.id, started).await?;
                        self.sink.delete(row, &gone).await?;
                        db.delete_synced(&row.id, &gone).await?;
                    }
                    return Ok(page.sync_token);
                }
            }
        }
    }

    /// A walk past its page or time ceiling is a runaway (its committed pages stay).
    fn check_ceilings(&self, job: &SyncJob) -> Result<(), Stop> {
        let c = &self.config;
        let ran = Duration::from_millis(
            (crate::db::now_ms() - job.started_at.unwrap_or_else(crate::db::now_ms)).max(0) as u64,
        );
        let reason = if job.pages >= c.max_walk_pages {
            format!(
                "walked {} pages without finishing, the ceiling of one walk (TRIBUTARY_SYNC_MAX_PAGES)",
                job.pages
            )
        } else if ran >= c.max_walk_time {
            format!(
                "walked for {:?} without finishing, the ceiling of one walk (TRIBUTARY_SYNC_MAX_WALK_MS)",
                c.max_walk_time
            )
        } else {
            return Ok(());
        };
        Err(Stop::Call(CallError::Runaway {
            plugin: job.provider.clone(),
            reason,
        }))
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
        // Each resource is checked once; the verdicts serve the id list and the loop.
        let verdicts: Vec<Result<(), String>> =
            page.resources.iter().map(validate::resource).collect();
        let mut unique = HashSet::new();
        let ids: Vec<&str> = page
            .resources
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| v.is_ok())
            .map(|(r, _)| r)
            .map(|r| r.id.as_str())
            .filter(|id| unique.insert(*id))
            .collect();
        let known = db.synced_page(&row.id, &ids).await?;
        let mut deleted = HashSet::new();
        let mut write = PageWrite {
            deleted: page
                .deleted
                .iter()
                .filter(|d| validate::resource_id(d).is_ok() && !unique.contains(d.as_str()))
                .filter(|d| deleted.insert(d.as_str()))
                .cloned()
                .collect(),
            ..PageWrite::default()
        };
        let mut contents = Vec::new();
        let mut taken = HashSet::new();
        for (r, verdict) in page.resources.iter().zip(verdicts) {
            job.resources_found += 1;
            if let Err(reason) = verdict {
                record(job, failures, &r.id, "plugin_malformed_result", reason);
                continue;
            }
            if !taken.insert(r.id.as_str()) {
                let why = "the same id came twice in one page; the first was kept".to_string();
                record(job, failures, &r.id, "duplicate_id", why);
                continue;
            }
            let held = known.get(&r.id);
            let held_version = held.and_then(|h| h.version.as_deref());
            if r.content.is_none() && r.version.is_some() && r.version.as_deref() == held_version {
                write.seen.push((r.id.clone(), None));
                continue;
            }
            let content = match &r.content {
                Some(c) => c.clone(),
                None => match source.fetch(&r.id).await {
                    Ok(c) if c.id != r.id => {
                        let why = format!(
                            "fetch of {} answered with content for {}",
                            quoted(&r.id),
                            quoted(&c.id)
                        );
                        record(job, failures, &r.id, "plugin_malformed_result", why);
                        write.seen.push((r.id.clone(), None));
                        continue;
                    }
                    Ok(c) => c,
                    Err(e @ CallError::Malformed { .. }) => {
                        record(job, failures, &r.id, e.code(), e.to_string());
                        write.seen.push((r.id.clone(), None));
                        continue;
                    }
                    // This resource crashed the plugin: it fails alone, the walk goes on
                    // with a fresh instance.
                    Err(
                        e @ (CallError::Trap { .. }
                        | CallError::Timeout { .. }
                        | CallError::MemoryLimit { .. }),
                    ) => {
                        record(job, failures, &r.id, e.code(), e.to_string());
                        write.seen.push((r.id.clone(), None));
                        source.restart().await?;
                        continue;
                    }
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
                        record(job, failures, &r.id, e.code(), e.message());
                        // Keep what the index holds: seen, so a full walk does not delete it.
                        write.seen.push((r.id.clone(), None));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            if held.is_some_and(|h| h.hash == content.content_hash) {
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
                modified_at: content.updated_at,
            });
            contents.push(content);
        }
        Ok((write, contents))
    }
}
