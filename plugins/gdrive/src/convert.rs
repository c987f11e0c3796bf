//! Drive files as resources and content: Google's own formats are exported (Docs and
//! Slides as text, Sheets as CSV: the first sheet, as Drive exports it), other files are
//! downloaded; both through the host, so large files never pass through the plugin.
//! Formats with no text export (forms, drawings, sites, shortcuts) keep their title and
//! metadata.

use tributary_sdk::prelude::*;
use tributary_sdk::url;

use crate::api::{API, FOLDER, File};

/// The export MIME type for a Google format with a text export.
pub fn export_type(mime: &str) -> Option<&'static str> {
    match mime {
        "application/vnd.google-apps.document" => Some("text/plain"),
        "application/vnd.google-apps.presentation" => Some("text/plain"),
        "application/vnd.google-apps.spreadsheet" => Some("text/csv"),
        _ => None,
    }
}

/// What identifies a file's content: the checksum of a binary file, else the version
/// Drive raises on every change.
pub fn version(file: &File) -> Option<String> {
    file.md5_checksum
        .clone()
        .or_else(|| file.version.clone())
        .or_else(|| file.modified_time.clone())
}

fn millis(t: &Option<String>) -> Option<i64> {
    t.as_deref().and_then(time::parse_millis)
}

/// What the connection may read: a METADATA_ONLY integration is granted only
/// `drive.metadata.readonly`, which cannot export or download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `drive.readonly`: contents too.
    Content,
    /// `drive.metadata.readonly`: names, types, owners, dates.
    Metadata,
}

impl Access {
    /// The granted scopes decide: without `drive.readonly` (or `drive`) only metadata.
    /// A credential that lists no scopes is taken at its word for nothing and tried.
    pub fn granted() -> Result<Access, Error> {
        let full = [
            tributary_google::scope("drive.readonly"),
            tributary_google::scope("drive"),
        ];
        let info = tributary_sdk::tokens::info()?;
        let content =
            info.is_none_or(|i| i.scopes.is_empty() || i.scopes.iter().any(|s| full.contains(s)));
        Ok(if content {
            Access::Content
        } else {
            Access::Metadata
        })
    }
}

/// What a file is, as text, when its contents cannot be read.
fn described(file: &File, version: &str) -> String {
    let mut lines = vec![file.name.clone(), format!("Type: {}", file.mime_type)];
    if let Some(o) = file.owners.first() {
        lines.push(format!("Owner: {}", o.display_name));
    }
    if let Some(t) = &file.modified_time {
        lines.push(format!("Modified: {t}"));
    }
    lines.push(format!("Version: {version}"));
    lines.join("\n")
}

/// The content of a file (None for folders).
pub fn content(config: &Config, file: &File, access: Access) -> Option<Content> {
    if file.mime_type == FOLDER {
        return None;
    }
    let version = version(file).unwrap_or_default();
    let all_drives = config.get("shared_drives") == Some("true");
    let mut c = if access == Access::Metadata {
        let mut c = Content::text(&file.id, "file", &file.name, &described(file, &version));
        c.mime_type = "text/plain".into();
        c
    } else if let Some(export) = export_type(&file.mime_type) {
        let href = url::build(API, &["files", &file.id, "export"], &[("mimeType", export)]);
        // Exports have no size until made; Drive refuses those over 10 MB.
        Content::download(
            &file.id, "document", &file.name, export, &href, &version, None,
        )
    } else if file.mime_type.starts_with("application/vnd.google-apps.") {
        let mut c = Content::text(&file.id, "file", &file.name, "");
        c.mime_type = file.mime_type.clone();
        c
    } else {
        let mut q = vec![("alt", "media")];
        if all_drives {
            q.push(("supportsAllDrives", "true"));
        }
        let href = url::build(API, &["files", &file.id], &q);
        let size = file.size.as_deref().and_then(|s| s.parse().ok());
        Content::download(
            &file.id,
            "file",
            &file.name,
            &file.mime_type,
            &href,
            &version,
            size,
        )
    };
    c = c.with_times(millis(&file.created_time), millis(&file.modified_time));
    if let Some(link) = &file.web_view_link {
        c = c.with_url(link.clone());
    }
    if let Some(owner) = file.owners.first() {
        c = c.with_author(owner.display_name.clone(), owner.email_address.clone());
    }
    c = c.with_meta("mime_type", file.mime_type.clone());
    if let Some(parent) = file.parents.first() {
        c = c.with_meta("folder_id", parent.clone());
    }
    if let Some(drive) = &file.drive_id {
        c = c.with_meta("drive_id", drive.clone());
    }
    Some(c)
}

/// A listed file as a resource for the host to fetch when its version changed: content
/// inline would make the host download every file on every walk, changed or not. The
/// version is the content hash (title, type and Drive's version).
pub fn resource(config: &Config, file: &File, access: Access) -> Option<Resource> {
    let content = content(config, file, access)?;
    let mut r = Resource::reference(
        &file.id,
        &content.kind,
        &file.name,
        Some(content.content_hash),
    );
    r.modified_at = millis(&file.modified_time);
    r.parent_id = file.parents.first().cloned();
    r.url = file.web_view_link.clone();
    Some(r)
}
