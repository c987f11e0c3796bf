//! Resources, pages, content and webhook records, with constructors that fill the
//! bookkeeping (content hash, empty lists) for you.

use sha2::{Digest, Sha256};

use crate::__bindings::exports::tributary::provider::provider as p;

pub use p::{
    Account, Author, Body, Change, Content, Download, ListMode, ListRequest, Page, Resource,
    Subscription, WebhookOutcome, WebhookRequest, WebhookResponse,
};

/// SHA-256 over length-prefixed parts, hex encoded: unambiguous and stable.
fn hash_parts(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

impl Content {
    /// Text content; the content hash covers title and text.
    ///
    /// ```
    /// use tributary_sdk::Content;
    /// let a = Content::text("1", "post", "Title", "body");
    /// let b = Content::text("1", "post", "Title", "body changed");
    /// assert_ne!(a.content_hash, b.content_hash);
    /// assert_eq!(a.mime_type, "text/plain");
    /// ```
    pub fn text(id: &str, kind: &str, title: &str, text: &str) -> Self {
        Content {
            id: id.into(),
            kind: kind.into(),
            title: title.into(),
            content_hash: hash_parts(&[title.as_bytes(), text.as_bytes()]),
            body: Body::Text(text.into()),
            mime_type: "text/plain".into(),
            url: None,
            author: None,
            created_at: None,
            updated_at: None,
            metadata: Vec::new(),
        }
    }

    /// Raw bytes the host extracts text from by `mime_type` (PDF, DOCX, HTML, email).
    ///
    /// ```
    /// use tributary_sdk::{Content, Body};
    /// let c = Content::bytes("f1", "file", "Report", "application/pdf", vec![1, 2, 3]);
    /// assert!(matches!(c.body, Body::Bytes(_)));
    /// ```
    pub fn bytes(id: &str, kind: &str, title: &str, mime_type: &str, bytes: Vec<u8>) -> Self {
        let mut c = Content::text(id, kind, title, "");
        c.content_hash = hash_parts(&[title.as_bytes(), mime_type.as_bytes(), &bytes]);
        c.body = Body::Bytes(bytes);
        c.mime_type = mime_type.into();
        c
    }

    /// Set the link back to the original.
    ///
    /// ```
    /// # use tributary_sdk::Content;
    /// let c = Content::text("1", "post", "T", "x").with_url("https://example.com/1");
    /// assert_eq!(c.url.as_deref(), Some("https://example.com/1"));
    /// ```
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Set the creation and update times (ms since the epoch).
    ///
    /// ```
    /// # use tributary_sdk::Content;
    /// let c = Content::text("1", "post", "T", "x").with_times(Some(1), Some(2));
    /// assert_eq!(c.updated_at, Some(2));
    /// ```
    pub fn with_times(mut self, created: Option<i64>, updated: Option<i64>) -> Self {
        self.created_at = created;
        self.updated_at = updated;
        self
    }

    /// Set the author.
    ///
    /// ```
    /// # use tributary_sdk::Content;
    /// let c = Content::text("1", "post", "T", "x").with_author("Ada", None);
    /// assert_eq!(c.author.unwrap().name, "Ada");
    /// ```
    pub fn with_author(mut self, name: impl Into<String>, email: Option<String>) -> Self {
        self.author = Some(Author {
            id: None,
            name: name.into(),
            email,
        });
        self
    }

    /// Add a metadata pair (kept, not hashed).
    ///
    /// ```
    /// # use tributary_sdk::Content;
    /// let c = Content::text("1", "post", "T", "x").with_meta("lang", "en");
    /// assert_eq!(c.metadata, vec![("lang".to_string(), "en".to_string())]);
    /// ```
    pub fn with_meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }
}

impl Resource {
    /// A listed resource that already carries its whole content, so the host needs no fetch.
    ///
    /// ```
    /// use tributary_sdk::{Content, Resource};
    /// let r = Resource::with_content(Content::text("1", "post", "T", "x").with_times(None, Some(5)));
    /// assert_eq!(r.modified_at, Some(5));
    /// assert_eq!(r.version.as_deref(), r.content.as_ref().map(|c| c.content_hash.as_str()));
    /// ```
    pub fn with_content(content: Content) -> Self {
        Resource {
            id: content.id.clone(),
            kind: content.kind.clone(),
            title: content.title.clone(),
            url: content.url.clone(),
            modified_at: content.updated_at.or(content.created_at),
            version: Some(content.content_hash.clone()),
            parent_id: None,
            content: Some(content),
        }
    }

    /// A listed resource the host fetches when `version` changed.
    ///
    /// ```
    /// use tributary_sdk::Resource;
    /// let r = Resource::reference("42", "issue", "Bug", Some("etag-1".into()));
    /// assert!(r.content.is_none());
    /// ```
    pub fn reference(id: &str, kind: &str, title: &str, version: Option<String>) -> Self {
        Resource {
            id: id.into(),
            kind: kind.into(),
            title: title.into(),
            url: None,
            modified_at: None,
            version,
            parent_id: None,
            content: None,
        }
    }
}

impl Page {
    /// The last page of a walk.
    ///
    /// ```
    /// use tributary_sdk::Page;
    /// assert!(Page::last(vec![]).next_cursor.is_none());
    /// ```
    pub fn last(resources: Vec<Resource>) -> Self {
        Page {
            resources,
            deleted: Vec::new(),
            next_cursor: None,
            sync_token: None,
        }
    }

    /// A page followed by more.
    ///
    /// ```
    /// use tributary_sdk::Page;
    /// assert_eq!(Page::more(vec![], "c2").next_cursor.as_deref(), Some("c2"));
    /// ```
    pub fn more(resources: Vec<Resource>, cursor: impl Into<String>) -> Self {
        Page {
            resources,
            deleted: Vec::new(),
            next_cursor: Some(cursor.into()),
            sync_token: None,
        }
    }
}

impl WebhookOutcome {
    /// A call whose signature did not verify.
    ///
    /// ```
    /// use tributary_sdk::WebhookOutcome;
    /// assert!(!WebhookOutcome::rejected().verified);
    /// ```
    pub fn rejected() -> Self {
        WebhookOutcome {
            verified: false,
            delivery_id: None,
            account_id: None,
            changes: Vec::new(),
            sync_requested: false,
            response: None,
        }
    }

    /// A verified call announcing `changes`.
    ///
    /// ```
    /// use tributary_sdk::{WebhookOutcome, Change};
    /// let o = WebhookOutcome::changes(vec![Change::Upsert("1".into())]);
    /// assert!(o.verified);
    /// ```
    pub fn changes(changes: Vec<Change>) -> Self {
        WebhookOutcome {
            verified: true,
            delivery_id: None,
            account_id: None,
            changes,
            sync_requested: false,
            response: None,
        }
    }

    /// The same outcome, naming the provider's delivery id: the host acknowledges a
    /// delivery id it has seen before without new work (Slack `event_id`, Pub/Sub
    /// `messageId`).
    ///
    /// ```
    /// use tributary_sdk::{WebhookOutcome, Change};
    /// let o = WebhookOutcome::changes(vec![]).delivery("Ev123");
    /// assert_eq!(o.delivery_id.as_deref(), Some("Ev123"));
    /// ```
    pub fn delivery(mut self, id: impl Into<String>) -> Self {
        self.delivery_id = Some(id.into());
        self
    }
}

impl Content {
    /// A file the host downloads itself (allow-listed, size-capped) and extracts by
    /// `mime_type`: large files never pass through plugin memory. `version` (an ETag,
    /// revision or `modifiedTime`) makes the content hash; the bytes are not seen here.
    ///
    /// ```
    /// use tributary_sdk::{Body, Content};
    /// let c = Content::download("f1", "file", "Report.pdf", "application/pdf",
    ///     "https://www.googleapis.com/drive/v3/files/f1?alt=media", "rev-7", Some(1 << 20));
    /// assert!(matches!(c.body, Body::Download(ref d) if d.authenticate));
    /// ```
    pub fn download(
        id: &str,
        kind: &str,
        title: &str,
        mime_type: &str,
        url: &str,
        version: &str,
        size: Option<u64>,
    ) -> Self {
        let mut c = Content::text(id, kind, title, "");
        c.content_hash = hash_parts(&[title.as_bytes(), mime_type.as_bytes(), version.as_bytes()]);
        c.body = Body::Download(Download {
            url: url.into(),
            headers: Vec::new(),
            authenticate: true,
            size,
        });
        c.mime_type = mime_type.into();
        c
    }
}
