//! The walk over the integration's projects, four phases each: the project and its
//! default branch's tree (keyset pages; an unchanged head commit lists nothing in an
//! incremental walk), issues and merge requests (`updated_after` the newest
//! `updated_at` of the last walk), wiki pages. Incremental listings are conditional
//! requests (ETag → 304).

use std::collections::HashMap;

use serde_json::Value;
use tributary_forge::tree::{self, DocRef, Entry};
use tributary_forge::walk::{Found, Step};
use tributary_sdk::prelude::*;
use tributary_sdk::url::encode;

use crate::api;
use crate::issues::{self, Kind};

/// Phases of one project.
pub const PHASES: u8 = 4;

/// The projects of this integration: those named in `projects`, else the person's
/// (membership), most recently active first, up to `max_projects`.
pub fn projects(base: &str, config: &Config) -> Result<Vec<String>, Error> {
    tributary_forge::chosen_repos(config, "projects", "max_projects", || {
        let url = format!(
            "{base}/projects?membership=true&simple=true&order_by=last_activity_at&sort=desc&per_page=100"
        );
        let list = api::get_json(&url, Some("projects"))?;
        Ok(list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["path_with_namespace"].as_str().map(str::to_string))
            .collect())
    })
}

/// The resource id of document `path` of `project`.
pub fn blob_id(project: &str, path: &str) -> String {
    format!("{}/-/blob/{path}", project.to_ascii_lowercase())
}

/// How a document is named and downloaded (`repository/files/<path>/raw`).
pub fn doc_ref(base: &str, project: &str, branch: &str, web: &str, e: &Entry) -> DocRef {
    DocRef {
        id: blob_id(project, &e.path),
        title: format!("{}: {}", project.to_ascii_lowercase(), e.path),
        raw_url: format!(
            "{}/repository/files/{}/raw?ref={}",
            api::project(base, project),
            encode(&e.path),
            encode(branch)
        ),
        headers: Vec::new(),
        web_url: Some(format!("{web}/-/blob/{}/{}", encode(branch), e.path)),
    }
}

/// What a job knows of each project: default branch and web URL.
pub type Metas = HashMap<String, (String, String)>;

/// One step of phase `st.phase` of `st.repo`.
pub fn step(
    base: &str,
    st: &mut Step,
    listed: &mut HashMap<String, Value>,
    metas: &mut Metas,
) -> Result<Found, Error> {
    match st.phase {
        0 => docs(base, st, metas),
        1 => issue_page(base, st, Kind::Issue, listed),
        2 => issue_page(base, st, Kind::MergeRequest, listed),
        _ => wiki(base, st, metas),
    }
}

/// The project's default branch and web URL: asked once a job (conditionally).
pub fn project_meta(
    base: &str,
    project: &str,
    metas: &mut Metas,
) -> Result<(String, String), Error> {
    if let Some(m) = metas.get(project) {
        return Ok(m.clone());
    }
    let url = api::project(base, project);
    let meta = api::get_json(&url, Some(&tributary_forge::cache_key(base, &url)))?;
    let m = (
        meta["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_string(),
        meta["web_url"].as_str().unwrap_or("").to_string(),
    );
    metas.insert(project.to_string(), m.clone());
    Ok(m)
}

fn docs(base: &str, st: &mut Step, metas: &mut Metas) -> Result<Found, Error> {
    let project = st.repo.clone();
    let (branch, web) = project_meta(base, &project, metas)?;
    let url = match st.next.take() {
        Some(u) => u,
        None => {
            let url = format!(
                "{}/repository/branches/{}",
                api::project(base, &project),
                encode(&branch)
            );
            let head = match api::get_json(&url, Some(&tributary_forge::cache_key(base, &url))) {
                Ok(b) => b["commit"]["id"].as_str().unwrap_or("").to_string(),
                // An empty repository has no branch.
                Err(Error::NotFound(_)) => return Ok(Found::default()),
                Err(e) => return Err(e),
            };
            if st.incremental && st.since.as_deref() == Some(head.as_str()) {
                return Ok(Found::default());
            }
            st.mark = Some(head);
            tree::begin(&project)?;
            format!(
                "{}/repository/tree?recursive=true&per_page=100&pagination=keyset&ref={}",
                api::project(base, &project),
                encode(&branch)
            )
        }
    };
    let resp = api::get(&url, None)?;
    let entries: Vec<Entry> = resp
        .json::<Vec<Value>>()?
        .iter()
        .filter(|e| e["type"] == "blob")
        .filter_map(|e| {
            Some(Entry {
                path: e["path"].as_str()?.to_string(),
                sha: e["id"].as_str()?.to_string(),
                size: None,
            })
        })
        .collect();
    let resources = tree::page(&project, &entries, |e| {
        doc_ref(base, &project, &branch, &web, e)
    })?;
    st.next = tributary_sdk::paging::next_url(&url, &resp);
    let deleted = match st.next {
        Some(_) => Vec::new(),
        None => tree::finish(&project, |p| blob_id(&project, p))?,
    };
    Ok(Found { resources, deleted })
}

fn issue_page(
    base: &str,
    st: &mut Step,
    kind: Kind,
    listed: &mut HashMap<String, Value>,
) -> Result<Found, Error> {
    let project = st.repo.clone();
    let size = st.page_size;
    tributary_forge::walk::updated_page(
        st,
        kind.path(),
        |since| {
            let mut u = format!(
                "{}/{}?order_by=updated_at&sort=asc&per_page={size}",
                api::project(base, &project),
                kind.path()
            );
            if let Some(since) = since {
                u.push_str("&updated_after=");
                u.push_str(&since);
            }
            u
        },
        api::get,
        |item| issues::reference(&project, kind, item),
        listed,
    )
}

fn wiki(base: &str, st: &mut Step, metas: &mut Metas) -> Result<Found, Error> {
    let project = st.repo.clone();
    let url = format!("{}/wikis?with_content=1", api::project(base, &project));
    let resp = match api::get(&url, Some(&tributary_forge::cache_key(base, &url))) {
        Ok(r) => r,
        // The wiki is turned off for this project.
        Err(Error::NotFound(_) | Error::Forbidden(_)) => return Ok(Found::default()),
        Err(e) => return Err(e),
    };
    if st.unchanged(resp.header("etag")) {
        return Ok(Found::default());
    }
    let pages: Vec<Value> = resp.json()?;
    let (_, web) = project_meta(base, &project, metas)?;
    let lower = project.to_ascii_lowercase();
    let resources = pages
        .iter()
        .filter_map(|p| {
            let slug = p["slug"].as_str()?;
            let title = format!("{lower} wiki: {}", p["title"].as_str().unwrap_or(slug));
            let mut c = Content::text(
                &format!("{lower}/-/wikis/{slug}"),
                "wiki_page",
                &title,
                p["content"].as_str().unwrap_or(""),
            )
            .with_meta("repository", lower.clone())
            .with_url(format!("{web}/-/wikis/{slug}"));
            if p["format"].as_str() == Some("markdown") {
                c.mime_type = "text/markdown".into();
            }
            Some(Resource::with_content(c))
        })
        .collect();
    Ok(Found {
        resources,
        deleted: Vec::new(),
    })
}
