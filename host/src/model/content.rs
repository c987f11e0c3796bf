//! What a walk, a fetch, a webhook call and a subscription produce.

use super::{Pairs, Timestamp};

/// The external account behind an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The provider's id of the account.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail, when the provider tells.
    pub email: Option<String>,
}

/// Walk everything, or only what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMode {
    /// Everything.
    Full,
    /// Only what changed since the last complete walk.
    Incremental,
}

/// One page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// Full or incremental.
    pub mode: ListMode,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// The last complete walk's sync token.
    pub sync_token: Option<String>,
    /// Only resources modified after this time.
    pub modified_after: Option<Timestamp>,
    /// A hint.
    pub page_size: u32,
}

/// Who wrote a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The provider's id.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
}

/// A file the host downloads itself and hands to extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// Absolute URL on an allowed host.
    pub url: String,
    /// Request headers.
    pub headers: Pairs,
    /// Add the integration's credentials.
    pub authenticate: bool,
    /// The size the provider reported.
    pub size: Option<u64>,
}

/// The body of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Plain text.
    Text(String),
    /// Bytes extracted by mime type.
    Bytes(Vec<u8>),
    /// Bytes the host downloads, then extracts by mime type.
    Download(Download),
}

/// Normalized content of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The provider's id.
    pub id: String,
    /// Kind (`post`, `file`, `message`).
    pub kind: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: Body,
    /// Mime type of the body.
    pub mime_type: String,
    /// Where a person opens it.
    pub url: Option<String>,
    /// Who wrote it.
    pub author: Option<Author>,
    /// Created.
    pub created_at: Option<Timestamp>,
    /// Last changed.
    pub updated_at: Option<Timestamp>,
    /// Extra facts.
    pub metadata: Pairs,
    /// Changes exactly when the content changes.
    pub content_hash: String,
}

/// A resource as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// The provider's id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Where a person opens it.
    pub url: Option<String>,
    /// Last changed.
    pub modified_at: Option<Timestamp>,
    /// ETag, revision or version.
    pub version: Option<String>,
    /// Parent resource.
    pub parent_id: Option<String>,
    /// The whole content, when the listing carries it.
    pub content: Option<Content>,
}

/// One page of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Resources on this page.
    pub resources: Vec<Resource>,
    /// Ids reported deleted.
    pub deleted: Vec<String>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// On the last page: where the next incremental walk starts.
    pub sync_token: Option<String>,
}

/// An incoming webhook call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// HTTP method.
    pub method: String,
    /// Path below the webhook prefix.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Headers.
    pub headers: Pairs,
    /// Body.
    pub body: Vec<u8>,
    /// The secret of the subscription the call belongs to (WIT 0.2.0 and later).
    pub subscription_secret: Option<String>,
}

/// An answer the provider requires right away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Pairs,
    /// Body.
    pub body: Vec<u8>,
}

/// One change a webhook announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Created or changed.
    Upsert(String),
    /// Deleted.
    Delete(String),
}

/// What a webhook call meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    /// False when the signature did not verify.
    pub verified: bool,
    /// The provider's delivery id (WIT 0.2.0 and later).
    pub delivery_id: Option<String>,
    /// The external account the call is about.
    pub account_id: Option<String>,
    /// Announced changes.
    pub changes: Vec<Change>,
    /// Run an incremental walk.
    pub sync_requested: bool,
    /// An immediate answer.
    pub response: Option<WebhookResponse>,
}

/// A webhook registration at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The provider's id.
    pub id: String,
    /// When it stops, if ever.
    pub expires_at: Option<Timestamp>,
    /// The provider's handle needed to remove it, besides the id.
    pub resource: Option<String>,
}
