//! The Drive v3 records the plugin reads, with exactly the field names of the reference,
//! and the partial-response masks that ask for them (fields not named are absent).

use serde::{Deserialize, Serialize};

/// The API root.
pub const API: &str = "https://www.googleapis.com/drive/v3";

/// The file fields a listing asks for.
pub const FILE_FIELDS: &str = "id,name,mimeType,modifiedTime,createdTime,md5Checksum,version,size,\
webViewLink,parents,trashed,driveId,owners(displayName,emailAddress)";

/// Folders: walked for the folder filter, never indexed themselves.
pub const FOLDER: &str = "application/vnd.google-apps.folder";

/// A Drive file (`files` resource), as far as the plugin reads it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// File id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its MIME type (`application/vnd.google-apps.*` for Google's own formats).
    #[serde(default)]
    pub mime_type: String,
    /// RFC 3339.
    pub modified_time: Option<String>,
    /// RFC 3339.
    pub created_time: Option<String>,
    /// Binary files only.
    pub md5_checksum: Option<String>,
    /// A number that rises with every change (int64 as a string).
    pub version: Option<String>,
    /// Bytes (int64 as a string); absent for Google's own formats.
    pub size: Option<String>,
    /// Link to open it in Drive.
    pub web_view_link: Option<String>,
    /// Parent folder ids.
    #[serde(default)]
    pub parents: Vec<String>,
    /// In the trash.
    #[serde(default)]
    pub trashed: bool,
    /// The shared drive it is in, if any.
    pub drive_id: Option<String>,
    /// Owners (absent for shared-drive items).
    #[serde(default)]
    pub owners: Vec<Owner>,
}

/// An owner of a file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// Name.
    #[serde(default)]
    pub display_name: String,
    /// Address.
    pub email_address: Option<String>,
}

/// `files.list`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileList {
    /// This page.
    #[serde(default)]
    pub files: Vec<File>,
    /// More pages.
    pub next_page_token: Option<String>,
}

/// `changes.list`: either `nextPageToken` (more now) or `newStartPageToken` (caught up).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeList {
    /// This page.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// More pages.
    pub next_page_token: Option<String>,
    /// Caught up: where the next incremental walk starts.
    pub new_start_page_token: Option<String>,
}

/// One entry of the changes feed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// `file` or `drive`.
    #[serde(default)]
    pub change_type: Option<String>,
    /// Removed, or access lost.
    #[serde(default)]
    pub removed: bool,
    /// The file's id.
    pub file_id: Option<String>,
    /// The file (absent when removed).
    pub file: Option<File>,
}

/// `changes.getStartPageToken`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartPageToken {
    /// The token.
    pub start_page_token: String,
}

/// `about.get(fields=user)`.
#[derive(Debug, Deserialize)]
pub struct About {
    /// The signed-in user.
    pub user: AboutUser,
}

/// The user of `about.get`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AboutUser {
    /// Name.
    #[serde(default)]
    pub display_name: String,
    /// Address.
    pub email_address: Option<String>,
    /// Stable id.
    pub permission_id: Option<String>,
}
