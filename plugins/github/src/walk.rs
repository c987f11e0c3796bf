//! The walk over the integration's repositories, three phases each: the repository and
//! its default branch's tree (documents; an unchanged tree SHA lists nothing in an
//! incremental walk), issues and pull requests (`since` the newest `updated_at` of the
//! last walk), releases. Every listing of an incremental walk is a conditional request:
//! when nothing changed, GitHub answers 304, which costs no rate-limit budget.

use std::collections::HashMap;

use serde_json::Value;
use tributary_forge::tree::{self, DocRef, Entry};
use tributary_forge::walk::{Found, Step};
use tributary_sdk::prelude::*;
use tributary_sdk::url::encode;

use crate::{api, issues};

/// Phases of one repository.
pub const PHASES: u8 = 3;

/// The repositories of this integration: those named in `repos`, else the ones the
/// person can read, most recently pushed first, up to `max_repos`.
pub fn repos(base: &str, config: &Config) -> Result<Vec<String>, Error> {
    tributary_forge::chosen_repos(config, "repos", "max_repos", || {
        let url = format!("{base}/user/repos?per_page=100&sort=pushed");
        let list = api::get_json(&url, Some("user/repos"))?;
        Ok(list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["full_name"].as_str().map(str::to_string))
            .collect())
    })
}

/// The resource id of document `path` of `repo`.
pub fn blob_id(repo: &str, path: &str) -> String {
    format!("{}/blob/{path}", repo.to_ascii_lowercase())
}

/// How a document of `repo` at `branch` is named and downloaded.
pub fn doc_ref(base: &str, repo: &str, branch: &str, html: &str, e: &Entry) -> DocRef {
    let segments: Vec<String> = e.path.split('/').map(encode).collect();
    let path = segments.join("/");
    DocRef {
        id: blob_id(repo, &e.path),
        title: format!("{}: {}", repo.to_ascii_lowercase(), e.path),
        raw_url: format!("{base}/repos/{repo}/contents/{path}?ref={}", encode(branch)),
        headers: vec![
            ("Accept".into(), "application/vnd.github.raw".into()),
            ("X-GitHub-Api-Version".into(), api::VERSION.into()),
            ("User-Agent".into(), "Tributary".into()),
        ],
        web_url: Some(format!("{html}/blob/{}/{path}", encode(branch))),
    }
}

/// One step of phase `st.phase` of `st.repo`.
pub fn step(
    base: &str,
    st: &mut Step,
    listed: &mut HashMap<String, Value>,
) -> Result<Found, Error> {
    match st.phase {
        0 => docs(base, st),
        1 => issue_page(base, st, listed),
        _ => releases(base, st),
    }
}

fn docs(base: &str, st: &mut Step) -> Result<Found, Error> {
    let repo = st.repo.clone();
    let url = format!("{base}/repos/{repo}");
    let meta = api::get_json(&url, Some(&tributary_forge::cache_key(base, &url)))?;
    let branch = meta["default_branch"]
        .as_str()
        .unwrap_or("main")
        .to_string();
    let html = meta["html_url"].as_str().unwrap_or("").to_string();
    let url = format!(
        "{base}/repos/{repo}/git/trees/{}?recursive=1",
        encode(&branch)
    );
    let resp = match api::get(&url, Some(&tributary_forge::cache_key(base, &url))) {
        Ok(r) => r,
        // 409: an empty repository has no tree.
        Err(Error::Other(why)) if why.starts_with("GitHub 409") => return Ok(Found::default()),
        Err(e) => return Err(e),
    };
    let body: Value = resp.json()?;
    let sha = body["sha"].as_str().unwrap_or("").to_string();
    if st.incremental && st.since.as_deref() == Some(sha.as_str()) {
        return Ok(Found::default());
    }
    st.mark = Some(sha);
    if body["truncated"].as_bool() == Some(true) {
        log::warn(&format!(
            "{repo}: GitHub truncated the tree; some documents are not listed"
        ));
    }
    let entries: Vec<Entry> = body["tree"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "blob")
        .filter_map(|e| {
            Some(Entry {
                path: e["path"].as_str()?.to_string(),
                sha: e["sha"].as_str()?.to_string(),
                size: e["size"].as_u64(),
            })
        })
        .collect();
    tree::begin(&repo)?;
    let resources = tree::page(&repo, &entries, |e| doc_ref(base, &repo, &branch, &html, e))?;
    let deleted = tree::finish(&repo, |p| blob_id(&repo, p))?;
    Ok(Found { resources, deleted })
}

fn issue_page(
    base: &str,
    st: &mut Step,
    listed: &mut HashMap<String, Value>,
) -> Result<Found, Error> {
    let repo = st.repo.clone();
    let size = st.page_size;
    // 410 (issues turned off) is a not found: an empty phase.
    tributary_forge::walk::updated_page(
        st,
        "issues",
        |since| {
            let mut u = format!(
                "{base}/repos/{repo}/issues?state=all&sort=updated&direction=asc&per_page={size}"
            );
            if let Some(since) = since {
                u.push_str("&since=");
                u.push_str(&since);
            }
            u
        },
        api::get,
        |item| issues::reference(&repo, item),
        listed,
    )
}

fn releases(base: &str, st: &mut Step) -> Result<Found, Error> {
    let repo = st.repo.clone();
    let first = st.next.is_none();
    let url = st
        .next
        .take()
        .unwrap_or_else(|| format!("{base}/repos/{repo}/releases?per_page=100"));
    let resp = api::get(&url, Some(&tributary_forge::cache_key(base, &url)))?;
    // Newest first: new releases change the first page.
    if first && st.unchanged(resp.header("etag")) {
        return Ok(Found::default());
    }
    let list: Vec<Value> = resp.json()?;
    let resources = list
        .iter()
        .filter(|r| r["draft"].as_bool() != Some(true))
        .filter_map(|r| release(&repo, r))
        .map(Resource::with_content)
        .collect();
    st.next = resp
        .header("link")
        .and_then(tributary_sdk::paging::next_link);
    Ok(Found {
        resources,
        deleted: Vec::new(),
    })
}

/// A release as content (its notes are the body).
fn release(repo: &str, r: &Value) -> Option<Content> {
    let id = r["id"].as_u64()?;
    let tag = r["tag_name"].as_str().unwrap_or("");
    let name = r["name"].as_str().filter(|n| !n.is_empty()).unwrap_or(tag);
    let repo = repo.to_ascii_lowercase();
    let title = format!("{repo} release {name}");
    let text = format!("{title} ({tag})\n\n{}", r["body"].as_str().unwrap_or(""));
    let mut c = Content::text(&format!("{repo}/releases/{id}"), "release", &title, &text)
        .with_times(
            api::millis(&r["created_at"]),
            api::millis(&r["published_at"]),
        )
        .with_author(r["author"]["login"].as_str().unwrap_or("ghost"), None)
        .with_meta("repository", repo)
        .with_meta("tag", tag);
    if let Some(u) = r["html_url"].as_str() {
        c = c.with_url(u);
    }
    Some(c)
}
