//! The documents of a repository's tree as resources: text and extractable files are
//! downloaded by the host (never through the plugin), binary files are listed with their
//! type so the host records why they are not indexed. The paths listed last time are
//! kept in kv, so a changed tree also reports the documents that left it.

use std::collections::BTreeMap;

use tributary_sdk::prelude::*;

use crate::docs::{DocKind, classify};

/// At most this many documents of one repository are synced (a generated site of
/// thousands of pages would crowd out everything else).
pub const MAX_DOCS: usize = 5_000;

/// One file of a tree.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path from the repository root.
    pub path: String,
    /// Blob SHA: changes exactly when the file does.
    pub sha: String,
    /// Size in bytes, when the provider says.
    pub size: Option<u64>,
}

/// How the plugin names and reaches one document.
pub struct DocRef {
    /// Resource id.
    pub id: String,
    /// Title shown in results (`owner/repo: path`).
    pub title: String,
    /// The file's raw bytes, as the host downloads them.
    pub raw_url: String,
    /// Headers the download needs (GitHub's raw media type).
    pub headers: Vec<(String, String)>,
    /// Where a person reads it.
    pub web_url: Option<String>,
}

/// The mime type a text document is indexed as.
fn text_mime(path: &str) -> &'static str {
    let lower = path.to_ascii_lowercase();
    if [".md", ".markdown", ".mdx"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        "text/markdown"
    } else {
        "text/plain"
    }
}

/// The resource of `entry` if it is a document, named by `name`.
///
/// ```
/// use tributary_forge::tree::{Entry, DocRef, resource};
/// let e = Entry { path: "docs/a.md".into(), sha: "abc".into(), size: Some(10) };
/// let r = resource(&e, |e| DocRef {
///     id: format!("o/r/blob/{}", e.path), title: format!("o/r: {}", e.path),
///     raw_url: format!("https://api.example.com/raw/{}", e.path), headers: vec![], web_url: None,
/// }).unwrap();
/// assert_eq!(r.content.unwrap().mime_type, "text/markdown");
/// let src = Entry { path: "src/lib.rs".into(), sha: "d".into(), size: None };
/// assert!(resource(&src, |_| unreachable!()).is_none());
/// ```
pub fn resource(entry: &Entry, name: impl FnOnce(&Entry) -> DocRef) -> Option<Resource> {
    let kind = classify(&entry.path);
    let mime = match kind {
        DocKind::Ignore => return None,
        DocKind::Text => text_mime(&entry.path),
        DocKind::Extract(m) | DocKind::Binary(m) => m,
    };
    let d = name(entry);
    let mut content = if let DocKind::Binary(_) = kind {
        // Nothing to download: the host records "unsupported mime type" as the reason.
        let mut c = Content::text(&d.id, "file", &d.title, "");
        c.mime_type = mime.into();
        c.content_hash = format!("{mime}:{}", entry.sha);
        c
    } else {
        let mut c = Content::download(
            &d.id, "doc", &d.title, mime, &d.raw_url, &entry.sha, entry.size,
        );
        if let Body::Download(dl) = &mut c.body {
            dl.headers = d.headers;
        }
        c
    };
    if let Some(u) = d.web_url {
        content = content.with_url(u);
    }
    // The version is the content hash, made from the blob SHA: an unchanged file is
    // neither downloaded nor indexed again.
    Some(Resource::with_content(
        content.with_meta("path", entry.path.clone()),
    ))
}

fn listed_key(repo: &str) -> String {
    format!("tree/{repo}")
}

fn pending_key(repo: &str) -> String {
    format!("tree-new/{repo}")
}

/// Start listing `repo`'s documents anew (a tree's first page).
pub fn begin(repo: &str) -> Result<(), Error> {
    kv::delete(&pending_key(repo))
}

/// Remember the documents among `entries` as listed in the tree being read (one page
/// of it); returns how many may still be added before [`MAX_DOCS`].
pub fn add(repo: &str, docs: &[&Entry]) -> Result<usize, Error> {
    let mut map: BTreeMap<String, String> = kv::get_json(&pending_key(repo))?.unwrap_or_default();
    for e in docs {
        if map.len() >= MAX_DOCS {
            break;
        }
        map.insert(e.path.clone(), e.sha.clone());
    }
    kv::set_json(&pending_key(repo), &map)?;
    Ok(MAX_DOCS - map.len())
}

/// The tree is read: the paths listed last time that are no longer there, as resource
/// ids made by `id`; the new listing becomes the last one.
pub fn finish(repo: &str, id: impl Fn(&str) -> String) -> Result<Vec<String>, Error> {
    let new: BTreeMap<String, String> = kv::get_json(&pending_key(repo))?.unwrap_or_default();
    let old: BTreeMap<String, String> = kv::get_json(&listed_key(repo))?.unwrap_or_default();
    let gone = old
        .keys()
        .filter(|p| !new.contains_key(*p))
        .map(|p| id(p))
        .collect();
    kv::set_json(&listed_key(repo), &new)?;
    kv::delete(&pending_key(repo))?;
    Ok(gone)
}

/// Documents of one page of a tree as resources, remembered for [`finish`]; at most
/// [`MAX_DOCS`] per repository (the rest are logged once).
pub fn page(
    repo: &str,
    entries: &[Entry],
    mut name: impl FnMut(&Entry) -> DocRef,
) -> Result<Vec<Resource>, Error> {
    let docs: Vec<&Entry> = entries
        .iter()
        .filter(|e| classify(&e.path) != DocKind::Ignore)
        .collect();
    let room_before: usize = MAX_DOCS
        - kv::get_json::<BTreeMap<String, String>>(&pending_key(repo))?
            .map(|m| m.len())
            .unwrap_or(0);
    let taken = &docs[..docs.len().min(room_before)];
    if taken.len() < docs.len() {
        log::warn(&format!(
            "{repo}: more than {MAX_DOCS} documents; the rest are not synced"
        ));
    }
    add(repo, taken)?;
    Ok(taken
        .iter()
        .filter_map(|e| resource(e, &mut name))
        .collect())
}
