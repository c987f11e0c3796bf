//! Issues and merge requests, each one resource with its notes (system notes such as
//! "changed the label" are left out). GitLab names them by `iid` within a project.

use serde_json::Value;
use tributary_forge::thread::Thread;
use tributary_sdk::chat::Message;
use tributary_sdk::prelude::*;

use crate::api;

/// Note pages read for one issue at most (3,000 notes).
const MAX_NOTE_PAGES: usize = 30;

/// The two kinds, as GitLab's paths name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `issues`, referenced `#iid`.
    Issue,
    /// `merge_requests`, referenced `!iid`.
    MergeRequest,
}

impl Kind {
    /// The path segment.
    pub fn path(self) -> &'static str {
        match self {
            Kind::Issue => "issues",
            Kind::MergeRequest => "merge_requests",
        }
    }

    /// From a path segment.
    pub fn from_path(p: &str) -> Option<Kind> {
        match p {
            "issues" => Some(Kind::Issue),
            "merge_requests" => Some(Kind::MergeRequest),
            _ => None,
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Kind::Issue => "issue",
            Kind::MergeRequest => "merge_request",
        }
    }
}

/// The resource id: `<project path>/-/<kind>/<iid>`, as GitLab's own web paths.
pub fn id(project: &str, kind: Kind, iid: u64) -> String {
    format!("{}/-/{}/{iid}", project.to_ascii_lowercase(), kind.path())
}

/// The listing's reference: refetched when updated or commented on.
pub fn reference(project: &str, kind: Kind, item: &Value) -> Option<Resource> {
    let iid = item["iid"].as_u64()?;
    let mut r = Resource::reference(
        &id(project, kind, iid),
        kind.singular(),
        item["title"].as_str().unwrap_or(""),
        Some(format!(
            "{}|{}",
            item["updated_at"].as_str().unwrap_or(""),
            item["user_notes_count"].as_u64().unwrap_or(0)
        )),
    );
    r.url = item["web_url"].as_str().map(str::to_string);
    r.modified_at = api::millis(&item["updated_at"]);
    Some(r)
}

fn username(v: &Value) -> String {
    v["author"]["username"]
        .as_str()
        .unwrap_or("ghost")
        .to_string()
}

/// The whole discussion of `item` as content.
pub fn content(base: &str, project: &str, kind: Kind, item: &Value) -> Result<Content, Error> {
    let iid = item["iid"]
        .as_u64()
        .ok_or_else(|| Error::invalid_input("an issue without an iid"))?;
    let mut comments = Vec::new();
    if item["user_notes_count"].as_u64() != Some(0) {
        let url = format!(
            "{}/{}/{iid}/notes?sort=asc&order_by=created_at&per_page=100",
            api::project(base, project),
            kind.path()
        );
        for n in api::all_pages(&url, MAX_NOTE_PAGES)? {
            if n["system"].as_bool() == Some(true) {
                continue;
            }
            let at = api::millis(&n["created_at"]);
            comments.push(Message::new(
                username(&n),
                at,
                n["body"].as_str().unwrap_or(""),
            ));
        }
    }
    let sigil = if kind == Kind::Issue { '#' } else { '!' };
    let thread = Thread {
        id: id(project, kind, iid),
        kind: kind.singular().into(),
        repo: project.to_ascii_lowercase(),
        reference: format!("{sigil}{iid}"),
        title: item["title"].as_str().unwrap_or("").to_string(),
        state: item["state"].as_str().unwrap_or("opened").to_string(),
        labels: item["labels"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        author: username(item),
        created_at: api::millis(&item["created_at"]),
        updated_at: api::millis(&item["updated_at"]),
        url: item["web_url"].as_str().map(str::to_string),
        body: item["description"].as_str().unwrap_or("").to_string(),
        comments,
    };
    Ok(thread.content())
}
