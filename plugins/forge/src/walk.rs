//! The resumable walk over repositories and their phases (tree, issues, releases, …).
//! Each host `list` call runs one step: one provider request in one phase of one
//! repository. A phase ends with a checkpoint (an `updated_at`, a tree SHA) kept with
//! the walk's checkpoints (`tributary_sdk::checkpoint`), so an incremental walk asks
//! only for what changed after it, and a walk that fails never moves them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_sdk::checkpoint::{self, Marks};
use tributary_sdk::http::Response;
use tributary_sdk::prelude::*;

/// Where the walk is; the host hands it back as the page cursor.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    walk: String,
    repo: usize,
    phase: u8,
    next: Option<String>,
    mark: Option<String>,
}

/// One step's context, handed to the plugin.
#[derive(Debug)]
pub struct Step {
    /// The repository (as the plugin named it when the walk began).
    pub repo: String,
    /// The phase, `0..phases`.
    pub phase: u8,
    /// Whether this is an incremental walk.
    pub incremental: bool,
    /// This phase's checkpoint from the last complete walk (incremental walks only).
    pub since: Option<String>,
    /// The provider's next-page URL to continue from; the step sets the one after it,
    /// or `None` when the phase is done.
    pub next: Option<String>,
    /// The newest mark seen in this phase so far; becomes its checkpoint at the end.
    pub mark: Option<String>,
    /// The host's page-size hint.
    pub page_size: u32,
}

impl Step {
    /// Whether an item updated at `updated_at` is news to an incremental walk: listings
    /// filtered by "updated since" repeat the item at the checkpoint itself.
    ///
    /// ```
    /// # let mut s = tributary_forge::walk::Step { repo: "a/b".into(), phase: 0, incremental: true, since: Some("2026-01-02T00:00:00Z".into()), next: None, mark: None, page_size: 100 };
    /// assert!(!s.is_new("2026-01-02T00:00:00Z"));
    /// assert!(s.is_new("2026-01-02T00:00:01Z"));
    /// ```
    pub fn is_new(&self, updated_at: &str) -> bool {
        self.since.as_deref().is_none_or(|s| updated_at > s)
    }

    /// For a phase listed whole each walk (releases, wiki pages): whether its first
    /// page's ETag is the one of the last walk, so an incremental walk lists nothing;
    /// otherwise the ETag becomes the phase's checkpoint.
    ///
    /// ```
    /// # let mut s = tributary_forge::walk::Step { repo: "a/b".into(), phase: 2, incremental: true, since: Some("W/\"1\"".into()), next: None, mark: None, page_size: 100 };
    /// assert!(s.unchanged(Some("W/\"1\"")));
    /// assert!(!s.unchanged(Some("W/\"2\"")));
    /// assert_eq!(s.mark.as_deref(), Some("W/\"2\""));
    /// ```
    pub fn unchanged(&mut self, etag: Option<&str>) -> bool {
        if self.incremental && etag.is_some() && self.since.as_deref() == etag {
            return true;
        }
        self.mark = etag.map(str::to_string);
        false
    }

    /// Keep `candidate` as the phase's mark when it is later than the one held (ISO
    /// 8601 times in one format compare as strings).
    ///
    /// ```
    /// # let mut s = tributary_forge::walk::Step { repo: "a/b".into(), phase: 0, incremental: false, since: None, next: None, mark: None, page_size: 100 };
    /// s.advance_mark("2026-01-02T00:00:00Z");
    /// s.advance_mark("2026-01-01T00:00:00Z");
    /// assert_eq!(s.mark.as_deref(), Some("2026-01-02T00:00:00Z"));
    /// ```
    pub fn advance_mark(&mut self, candidate: &str) {
        if self.mark.as_deref().is_none_or(|m| candidate > m) {
            self.mark = Some(candidate.to_string());
        }
    }
}

/// What one step found.
#[derive(Debug, Default)]
pub struct Found {
    /// Resources of this page.
    pub resources: Vec<Resource>,
    /// Ids known to be gone.
    pub deleted: Vec<String>,
}

/// The stream name of a phase's checkpoint.
fn stream(repo: &str, phase: u8) -> String {
    format!("{repo}#{phase}")
}

/// Run one step of the walk `req` over `phases` phases per repository. `repos` is asked
/// once, on the walk's first page, and kept with the walk; `step` does the work. A
/// repository the provider does not have (not found) is skipped, and not asked for
/// again by incremental walks until the next full one; one that was synced until now
/// makes an incremental walk ask the host for a full one, whose end drops its resources.
pub fn page(
    req: &ListRequest,
    phases: u8,
    repos: impl FnOnce() -> Result<Vec<String>, Error>,
    mut step: impl FnMut(&mut Step) -> Result<Found, Error>,
) -> Result<Page, Error> {
    let incremental = req.mode == ListMode::Incremental;
    let previous = if incremental {
        checkpoint::previous(req.sync_token.as_deref())?
    } else {
        Default::default()
    };
    let mut marks = Marks::default();
    let mut cursor = match &req.cursor {
        Some(c) => serde_json::from_str::<Cursor>(c)
            .map_err(|e| Error::invalid_input(format!("bad cursor: {e}")))?,
        None => {
            let walk = checkpoint::start(req.sync_token.as_deref())?;
            let list = repos()?;
            marks.set(&walk, "repos", &serde_json::to_string(&list)?)?;
            Cursor {
                walk,
                repo: 0,
                phase: 0,
                next: None,
                mark: None,
            }
        }
    };
    let list: Vec<String> = match marks.get(&cursor.walk, "repos")? {
        Some(l) => serde_json::from_str(&l)?,
        None => return Err(Error::not_found("the walk's repository list is gone")),
    };
    let Some(repo) = list.get(cursor.repo).cloned() else {
        return Ok(done(&cursor));
    };
    let gone_key = format!("gone/{repo}");
    // Gone at the last walk: not asked again until a full walk (a 404 costs budget).
    if incremental && cursor.phase == 0 && cursor.next.is_none() && previous.contains_key(&gone_key)
    {
        marks.set(&cursor.walk, &gone_key, "1")?;
        cursor.repo += 1;
        return Ok(more(&cursor, Found::default(), list.len()));
    }
    let key = stream(&repo, cursor.phase);
    let mut st = Step {
        repo: repo.clone(),
        phase: cursor.phase,
        incremental,
        since: previous.get(&key).cloned(),
        next: cursor.next.take(),
        mark: cursor.mark.take(),
        page_size: req.page_size.clamp(1, 100),
    };
    let found = match step(&mut st) {
        Ok(f) => f,
        // A repository the provider does not have (deleted, renamed, access lost): a
        // full walk skips it, and its end drops what was synced of it. An incremental
        // walk that synced it last time asks the host for a full walk.
        Err(Error::NotFound(why))
            if !incremental || !previous.keys().any(|k| k.starts_with(&format!("{repo}#"))) =>
        {
            log::warn(&format!("skipping repository {repo}: {why}"));
            marks.set(&cursor.walk, &gone_key, "1")?;
            cursor.repo += 1;
            cursor.phase = 0;
            return Ok(more(&cursor, Found::default(), list.len()));
        }
        Err(e) => return Err(e),
    };
    if st.next.is_some() {
        cursor.next = st.next;
        cursor.mark = st.mark;
        return Ok(more(&cursor, found, list.len()));
    }
    // The phase is done: its checkpoint is the newest mark, or the last walk's when
    // nothing newer came (each walk keeps a whole map of its own).
    if let Some(m) = st.mark.or(st.since) {
        marks.set(&cursor.walk, &key, &m)?;
    }
    cursor.phase += 1;
    if cursor.phase >= phases {
        cursor.phase = 0;
        cursor.repo += 1;
    }
    Ok(more(&cursor, found, list.len()))
}

/// The page after a step: the last one (with the walk id as sync token) when every
/// repository is done.
fn more(cursor: &Cursor, found: Found, repos: usize) -> Page {
    let mut page = if cursor.repo >= repos {
        done(cursor)
    } else {
        Page::more(
            Vec::new(),
            serde_json::to_string(cursor).expect("a cursor serializes"),
        )
    };
    page.resources = found.resources;
    page.deleted = found.deleted;
    page
}

fn done(cursor: &Cursor) -> Page {
    let mut page = Page::last(Vec::new());
    page.sync_token = Some(cursor.walk.clone());
    page
}

/// One page of an "updated since" listing (issues, merge requests): the first page's URL
/// from `first_url` (given the checkpoint, URL-encoded, in incremental walks), later ones
/// from the answer's `Link`/`X-Next-Page`. Incremental walks ask conditionally, the first
/// page under one kv key per repository and `phase` (its URL changes with each
/// checkpoint; keys made from it would pile up); full walks do not keep pages (they
/// would make the integration's storage as large as the repository). Items not newer
/// than the checkpoint are left out; the newest `updated_at` becomes the mark; each
/// item's reference is made by `reference` and the item kept in `listed` for `fetch`.
/// Not found (the feature turned off) is an empty phase.
pub fn updated_page(
    st: &mut Step,
    phase: &str,
    first_url: impl FnOnce(Option<String>) -> String,
    get: impl FnOnce(&str, Option<&str>) -> Result<Response, Error>,
    reference: impl Fn(&Value) -> Option<Resource>,
    listed: &mut HashMap<String, Value>,
) -> Result<Found, Error> {
    let cache = (st.incremental && st.next.is_none())
        .then(|| format!("first/{}/{phase}", st.repo.to_ascii_lowercase()));
    let url = match st.next.take() {
        Some(u) => u,
        None => first_url(st.since.as_deref().map(tributary_sdk::url::encode)),
    };
    let resp = match get(&url, cache.as_deref()) {
        Ok(r) => r,
        Err(Error::NotFound(why)) => {
            log::info(&format!("{}: no {phase} ({why})", st.repo));
            return Ok(Found::default());
        }
        Err(e) => return Err(e),
    };
    let items: Vec<Value> = resp.json()?;
    let mut resources = Vec::with_capacity(items.len());
    for item in items {
        let at = item["updated_at"].as_str().unwrap_or("");
        if !st.is_new(at) {
            continue;
        }
        st.advance_mark(at);
        if let Some(r) = reference(&item) {
            listed.insert(r.id.clone(), item);
            resources.push(r);
        }
    }
    st.next = tributary_sdk::paging::next_url(&url, &resp);
    Ok(Found {
        resources,
        deleted: Vec::new(),
    })
}
