//! Walks: a full walk lists files (all of them, or one folder's tree breadth first) after
//! taking the changes feed's start page token, which its last page hands back as the sync
//! token; an incremental walk reads the changes feed from that token. A token Drive no
//! longer accepts is reported as `not-found`, which the host answers with a full walk.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tributary_google::check;
use tributary_sdk::prelude::*;
use tributary_sdk::url;

use crate::api::{self, API, FOLDER};
use crate::convert::Access;
use crate::{convert, drives_params, start_page_token};

/// Drive's largest page.
const MAX_PAGE: u32 = 1000;
/// Where the folder filter keeps the folders of its tree between walks.
const FOLDERS_KEY: &str = "folders";

/// Where a walk is.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    /// The changes feed's start page token, taken before the full walk began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    /// The page token of the listing in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Folder filter: the folders still to list, the current one first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    queue: Vec<String>,
}

impl Cursor {
    fn parse(raw: Option<&str>) -> Result<Option<Cursor>, Error> {
        raw.map(|c| {
            serde_json::from_str(c).map_err(|e| Error::invalid_input(format!("bad cursor: {e}")))
        })
        .transpose()
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("a cursor serializes")
    }
}

/// One page of a walk.
pub fn page(
    config: &Config,
    req: ListRequest,
    listed: &mut HashMap<String, api::File>,
    access: Access,
) -> Result<Page, Error> {
    let size = req.page_size.clamp(1, MAX_PAGE).to_string();
    let cursor = Cursor::parse(req.cursor.as_deref())?;
    match req.mode {
        ListMode::Full => full(config, cursor, &size, listed, access),
        ListMode::Incremental => {
            let token = match cursor {
                Some(c) => c.token,
                None => req.sync_token,
            };
            let token = token.ok_or_else(|| {
                Error::not_found("no changes token from an earlier walk: a full walk is needed")
            })?;
            changes(config, &token, &size, listed, access)
        }
    }
}

fn folders() -> Result<Vec<String>, Error> {
    Ok(kv::get_json(FOLDERS_KEY)?.unwrap_or_default())
}

fn full(
    config: &Config,
    cursor: Option<Cursor>,
    size: &str,
    listed: &mut HashMap<String, api::File>,
    access: Access,
) -> Result<Page, Error> {
    let folder = config.get("folder_id");
    let mut cursor = match cursor {
        Some(c) => c,
        None => {
            if let Some(f) = folder {
                kv::set_json(FOLDERS_KEY, &vec![f.to_string()])?;
            }
            Cursor {
                start: Some(start_page_token(config)?),
                token: None,
                queue: folder.map(|f| vec![f.to_string()]).unwrap_or_default(),
            }
        }
    };
    let q = match cursor.queue.first() {
        // Ids are Drive's own ([A-Za-z0-9_-]); quotes are escaped all the same.
        Some(f) => format!(
            "'{}' in parents and trashed = false",
            f.replace('\'', "\\'")
        ),
        None if folder.is_some() => return Ok(last(Vec::new(), Vec::new(), cursor.start)),
        None => format!("trashed = false and mimeType != '{FOLDER}'"),
    };
    let fields = format!("nextPageToken,files({})", api::FILE_FIELDS);
    let all_drives = config.get("shared_drives") == Some("true");
    let mut query = vec![
        ("q", q.as_str()),
        ("pageSize", size),
        ("fields", fields.as_str()),
        ("corpora", if all_drives { "allDrives" } else { "user" }),
    ];
    query.extend(drives_params(config));
    if let Some(t) = &cursor.token {
        query.push(("pageToken", t));
    }
    let href = url::build(API, &["files"], &query);
    let list: api::FileList = check(http::Request::get(href).authenticated().send()?)?.json()?;
    let mut resources = Vec::with_capacity(list.files.len());
    let mut found = Vec::new();
    for file in &list.files {
        if file.mime_type == FOLDER {
            found.push(file.id.clone());
        } else if let Some(r) = convert::resource(config, file, access) {
            resources.push(r);
            listed.insert(file.id.clone(), file.clone());
        }
    }
    if !found.is_empty() {
        let mut known = folders()?;
        known.extend(found.iter().cloned());
        kv::set_json(FOLDERS_KEY, &known)?;
        cursor.queue.extend(found);
    }
    cursor.token = list.next_page_token;
    if cursor.token.is_none() && !cursor.queue.is_empty() {
        cursor.queue.remove(0);
    }
    if cursor.token.is_none() && cursor.queue.is_empty() {
        return Ok(last(resources, Vec::new(), cursor.start));
    }
    Ok(Page::more(resources, cursor.encode()))
}

fn last(resources: Vec<Resource>, deleted: Vec<String>, sync_token: Option<String>) -> Page {
    let mut page = Page::last(resources);
    page.deleted = deleted;
    page.sync_token = sync_token;
    page
}

fn changes(
    config: &Config,
    token: &str,
    size: &str,
    listed: &mut HashMap<String, api::File>,
    access: Access,
) -> Result<Page, Error> {
    let fields = format!(
        "nextPageToken,newStartPageToken,changes(changeType,removed,fileId,file({}))",
        api::FILE_FIELDS
    );
    let mut query = vec![
        ("pageToken", token),
        ("pageSize", size),
        ("includeRemoved", "true"),
        ("fields", fields.as_str()),
    ];
    query.extend(drives_params(config));
    let href = url::build(API, &["changes"], &query);
    let resp = http::Request::get(href).authenticated().send()?;
    // A page token Drive no longer takes comes back as 400 or 404: walk again in full.
    if matches!(resp.status(), 400 | 404) {
        let e = tributary_google::GoogleError::parse(resp.status(), resp.bytes());
        return Err(Error::not_found(format!(
            "the changes page token is no longer valid ({}: {}): a full walk is needed",
            e.code, e.message
        )));
    }
    let list: api::ChangeList = check(resp)?.json()?;
    let filter = config.get("folder_id").is_some();
    let mut known = if filter { folders()? } else { Vec::new() };
    let mut grew = false;
    let mut resources = Vec::new();
    let mut deleted = Vec::new();
    for change in list.changes {
        if change.change_type.as_deref() == Some("drive") {
            continue;
        }
        let Some(id) = change
            .file_id
            .or_else(|| change.file.as_ref().map(|f| f.id.clone()))
        else {
            continue;
        };
        let file = match change.file {
            Some(f) if !change.removed && !f.trashed => f,
            _ => {
                deleted.push(id);
                continue;
            }
        };
        let inside = !filter || file.parents.iter().any(|p| known.contains(p));
        if file.mime_type == FOLDER {
            if filter && inside && !known.contains(&file.id) {
                known.push(file.id);
                grew = true;
            }
            continue;
        }
        match inside {
            true => {
                resources.extend(convert::resource(config, &file, access));
                listed.insert(file.id.clone(), file);
            }
            // Moved out of the folder's tree (or never in it): not ours to hold.
            false => deleted.push(id),
        }
    }
    if grew {
        kv::set_json(FOLDERS_KEY, &known)?;
    }
    match (list.next_page_token, list.new_start_page_token) {
        (Some(next), _) => {
            let mut page = Page::more(
                resources,
                Cursor {
                    token: Some(next),
                    ..Default::default()
                }
                .encode(),
            );
            page.deleted = deleted;
            Ok(page)
        }
        (None, Some(start)) => Ok(last(resources, deleted, Some(start))),
        (None, None) => Err(Error::other(
            "Drive's changes page had neither nextPageToken nor newStartPageToken",
        )),
    }
}
