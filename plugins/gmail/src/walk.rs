//! Walks. A full walk takes the mailbox's `historyId` first (from `users.getProfile`, so
//! nothing that arrives during the walk is missed) and lists `messages.list` pages, newest
//! first, with the integration's labels, query and date range; the last page hands that
//! history id back as the sync token. An incremental walk reads `history.list` from it:
//! added messages and label changes are upserts, deleted or trashed ones deletions. A 404
//! (the history id is too old) is `not-found`, which the host answers with a full walk.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tributary_google::{GoogleError, check};
use tributary_sdk::prelude::*;
use tributary_sdk::url;

use crate::API;

/// `messages.list` and `history.list` take at most 500 per page.
const MAX_PAGE: u32 = 500;
/// Labels whose arrival means "gone" for the index.
const GONE: &[&str] = &["TRASH", "SPAM"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageList {
    #[serde(default)]
    messages: Vec<Ref>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ref {
    id: String,
    #[serde(default)]
    label_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryList {
    #[serde(default)]
    history: Vec<History>,
    history_id: Option<String>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct History {
    #[serde(default)]
    messages_added: Vec<Wrapped>,
    #[serde(default)]
    messages_deleted: Vec<Wrapped>,
    #[serde(default)]
    labels_added: Vec<LabelChange>,
    #[serde(default)]
    labels_removed: Vec<LabelChange>,
}

#[derive(Deserialize)]
struct Wrapped {
    message: Ref,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LabelChange {
    message: Ref,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Profile {
    pub email_address: String,
    pub history_id: String,
}

/// Where a full walk is: the history id taken before it began, and the next page.
#[derive(Default, Serialize, Deserialize)]
struct Cursor {
    history: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
}

/// The labels an integration is limited to (none: all mail but spam and trash).
pub(crate) fn labels(config: &Config) -> Vec<String> {
    config
        .get("labels")
        .unwrap_or("")
        .split(',')
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The `q` of a full walk: the configured query and date range in Gmail's search syntax.
pub(crate) fn query(config: &Config) -> Result<String, Error> {
    let mut q: Vec<String> = Vec::new();
    if let Some(s) = config.get("query").map(str::trim).filter(|s| !s.is_empty()) {
        q.push(format!("({s})"));
    }
    for (key, op) in [("after", "after"), ("before", "before")] {
        if let Some(d) = config.get(key).map(str::trim).filter(|s| !s.is_empty()) {
            let ok = d.len() == 10
                && d.char_indices().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if !ok {
                return Err(Error::invalid_config(format!(
                    "`{key}` must be a date as YYYY-MM-DD, not {d:?}"
                )));
            }
            q.push(format!("{op}:{}", d.replace('-', "/")));
        }
    }
    Ok(q.join(" "))
}

pub(crate) fn profile() -> Result<Profile, Error> {
    let href = url::build(API, &["profile"], &[]);
    check(http::Request::get(href).authenticated().send()?)?.json()
}

fn json<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::other(e.to_string()))
}

/// One page of a full walk.
pub(crate) fn full(config: &Config, req: &ListRequest) -> Result<Page, Error> {
    let mut cursor: Cursor = match &req.cursor {
        Some(c) => {
            serde_json::from_str(c).map_err(|e| Error::invalid_input(format!("bad cursor: {e}")))?
        }
        None => Cursor {
            history: profile()?.history_id,
            page: None,
        },
    };
    let size = req.page_size.clamp(1, MAX_PAGE).to_string();
    let q = query(config)?;
    let labels = labels(config);
    let mut params: Vec<(&str, &str)> = vec![("maxResults", size.as_str())];
    if !q.is_empty() {
        params.push(("q", q.as_str()));
    }
    for l in &labels {
        params.push(("labelIds", l.as_str()));
    }
    if let Some(p) = &cursor.page {
        params.push(("pageToken", p.as_str()));
    }
    let href = url::build(API, &["messages"], &params);
    let list: MessageList = check(http::Request::get(href).authenticated().send()?)?.json()?;
    // A message's text never changes (a label change comes through history): its id
    // is its version, so a repeated full walk fetches only what it has not seen.
    let resources = list
        .messages
        .iter()
        .map(|m| Resource::reference(&m.id, "email", "", Some(m.id.clone())))
        .collect();
    let mut page = Page::last(resources);
    match list.next_page_token {
        Some(next) => {
            cursor.page = Some(next);
            page.next_cursor = Some(json(&cursor)?);
        }
        None => page.sync_token = Some(cursor.history),
    }
    Ok(page)
}

/// One page of an incremental walk from the history id in the sync token.
pub(crate) fn incremental(config: &Config, req: &ListRequest) -> Result<Page, Error> {
    let start = req
        .sync_token
        .as_deref()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Error::not_found("no history id to start from: a full walk is needed"))?;
    let size = req.page_size.clamp(1, MAX_PAGE).to_string();
    let labels = labels(config);
    let mut params: Vec<(&str, &str)> = vec![
        ("startHistoryId", start),
        ("maxResults", size.as_str()),
        ("historyTypes", "messageAdded"),
        ("historyTypes", "messageDeleted"),
        ("historyTypes", "labelAdded"),
        ("historyTypes", "labelRemoved"),
    ];
    // history.list filters by one label only; more are checked per message below.
    if let [one] = labels.as_slice() {
        params.push(("labelId", one.as_str()));
    }
    if let Some(p) = &req.cursor {
        params.push(("pageToken", p.as_str()));
    }
    let href = url::build(API, &["history"], &params);
    let resp = http::Request::get(href).authenticated().send()?;
    if resp.status() == 404 {
        let e = GoogleError::parse(404, resp.bytes());
        return Err(Error::not_found(format!(
            "Gmail no longer has history from {start} ({}): a full walk is needed",
            e.message
        )));
    }
    let list: HistoryList = check(resp)?.json()?;
    // The last word on each message wins, in history order.
    let mut last: BTreeMap<String, bool> = BTreeMap::new();
    let wanted = |m: &Ref| match &m.label_ids {
        Some(ids) => {
            !ids.iter().any(|l| GONE.contains(&l.as_str()))
                && (labels.is_empty() || ids.iter().any(|l| labels.contains(l)))
        }
        None => true,
    };
    for h in &list.history {
        for a in &h.messages_added {
            last.insert(a.message.id.clone(), wanted(&a.message));
        }
        for change in h.labels_added.iter().chain(&h.labels_removed) {
            last.insert(change.message.id.clone(), wanted(&change.message));
        }
        for d in &h.messages_deleted {
            last.insert(d.message.id.clone(), false);
        }
    }
    let mut page = Page::last(Vec::new());
    for (id, keep) in last {
        if keep {
            // No version: the labels changed, so the message is fetched again.
            page.resources
                .push(Resource::reference(&id, "email", "", None));
        } else {
            page.deleted.push(id);
        }
    }
    match (list.next_page_token, list.history_id) {
        (Some(next), _) => page.next_cursor = Some(next),
        (None, Some(h)) => page.sync_token = Some(h),
        (None, None) => {
            return Err(Error::other("the last history page had no historyId"));
        }
    }
    Ok(page)
}
