//! Issues and pull requests: GitHub's issues endpoint lists both (a pull request carries
//! a `pull_request` key); each becomes one resource with its whole discussion (issue
//! comments, and for a pull request its review comments on the diff).

use serde_json::Value;
use tributary_forge::thread::Thread;
use tributary_sdk::chat::Message;
use tributary_sdk::prelude::*;
use tributary_sdk::url::encode;

use crate::api;

/// Comment pages read for one issue at most (3,000 comments).
const MAX_COMMENT_PAGES: usize = 30;

/// Whether an issues-endpoint item is a pull request.
pub fn is_pull(item: &Value) -> bool {
    item.get("pull_request").is_some_and(|p| !p.is_null())
}

/// The resource id of issue or pull request `number` of `repo`.
pub fn id(repo: &str, pull: bool, number: u64) -> String {
    let kind = if pull { "pull" } else { "issues" };
    format!("{}/{kind}/{number}", repo.to_ascii_lowercase())
}

/// The listing's reference to an item: refetched when it was updated or commented on.
pub fn reference(repo: &str, item: &Value) -> Option<Resource> {
    let number = item["number"].as_u64()?;
    let pull = is_pull(item);
    let mut r = Resource::reference(
        &id(repo, pull, number),
        if pull { "pull_request" } else { "issue" },
        item["title"].as_str().unwrap_or(""),
        Some(format!(
            "{}|{}",
            item["updated_at"].as_str().unwrap_or(""),
            item["comments"].as_u64().unwrap_or(0)
        )),
    );
    r.url = item["html_url"].as_str().map(str::to_string);
    r.modified_at = api::millis(&item["updated_at"]);
    Some(r)
}

fn login(v: &Value) -> String {
    v["user"]["login"].as_str().unwrap_or("ghost").to_string()
}

/// The whole discussion of `item` (an issues-endpoint object) as content.
pub fn content(base: &str, repo: &str, item: &Value) -> Result<Content, Error> {
    let number = item["number"]
        .as_u64()
        .ok_or_else(|| Error::invalid_input("an issue without a number"))?;
    let pull = is_pull(item);
    let mut comments: Vec<(i64, Message)> = Vec::new();
    let path = |tail: &str| format!("{base}/repos/{repo}/{tail}?per_page=100");
    if item["comments"].as_u64().unwrap_or(0) > 0 {
        for c in api::all_pages(
            &path(&format!("issues/{number}/comments")),
            MAX_COMMENT_PAGES,
        )? {
            let at = api::millis(&c["created_at"]);
            comments.push((
                at.unwrap_or(0),
                Message::new(login(&c), at, c["body"].as_str().unwrap_or("")),
            ));
        }
    }
    if pull {
        for c in api::all_pages(
            &path(&format!("pulls/{number}/comments")),
            MAX_COMMENT_PAGES,
        )? {
            let at = api::millis(&c["created_at"]);
            let text = format!(
                "on {}: {}",
                c["path"].as_str().unwrap_or("the diff"),
                c["body"].as_str().unwrap_or("")
            );
            comments.push((at.unwrap_or(0), Message::new(login(&c), at, text)));
        }
    }
    comments.sort_by_key(|(at, _)| *at);
    let merged = item["pull_request"]["merged_at"].is_string();
    let state = if merged {
        "merged".to_string()
    } else {
        item["state"].as_str().unwrap_or("open").to_string()
    };
    let thread = Thread {
        id: id(repo, pull, number),
        kind: if pull { "pull_request" } else { "issue" }.into(),
        repo: repo.to_ascii_lowercase(),
        reference: format!("#{number}"),
        title: item["title"].as_str().unwrap_or("").to_string(),
        state,
        labels: item["labels"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|x| x["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        author: login(item),
        created_at: api::millis(&item["created_at"]),
        updated_at: api::millis(&item["updated_at"]),
        url: item["html_url"].as_str().map(str::to_string),
        body: item["body"].as_str().unwrap_or("").to_string(),
        comments: comments.into_iter().map(|(_, m)| m).collect(),
    };
    Ok(thread.content())
}

/// Read issue or pull request `number` (the issues endpoint serves both).
pub fn get(base: &str, repo: &str, number: &str) -> Result<Value, Error> {
    let url = format!("{base}/repos/{repo}/issues/{}", encode(number));
    api::get_json(&url, None)
}
