//! Substack (and any RSS/Atom feed) provider: every entry of the feed is a resource,
//! listed with its full content (HTML turned into text), so a sync needs no `fetch`.

use std::sync::Arc;

use feed_rs::model::{Entry, Feed};
use tributary_sdk::paging::OffsetCursor;
use tributary_sdk::prelude::*;
use tributary_sdk::{Capabilities, FieldKind};

/// The provider. An instance lives for one job.
#[derive(Default)]
pub struct Substack {
    /// The feed of the walk in progress: later pages of one walk read the same snapshot
    /// instead of downloading and parsing it again.
    walk: Option<(String, Arc<Feed>)>,
}

/// Largest page, whatever the host asks for.
const MAX_PAGE: usize = 1000;

/// The feed URL: `feed_url`, or `https://<publication>.substack.com/feed`.
fn feed_url(config: &Config) -> Result<String, Error> {
    if let Some(url) = config.get("feed_url") {
        return Ok(url.to_string());
    }
    let publication = config.get("publication").ok_or_else(|| {
        Error::invalid_config(
            "set `feed_url` (any RSS/Atom URL) or `publication` (the name in name.substack.com)",
        )
    })?;
    if !publication
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(Error::invalid_config(format!(
            "`publication` {publication:?} is not a Substack name"
        )));
    }
    Ok(format!("https://{publication}.substack.com/feed"))
}

impl Substack {
    /// The feed for a page: a fresh download on the first page, the walk's snapshot after.
    fn feed_for_page(&mut self, config: &Config, continuing: bool) -> Result<Arc<Feed>, Error> {
        let url = feed_url(config)?;
        if continuing && let Some((_, feed)) = self.walk.as_ref().filter(|(u, _)| *u == url) {
            return Ok(feed.clone());
        }
        let feed = Arc::new(load_feed(config)?);
        self.walk = Some((url, feed.clone()));
        Ok(feed)
    }
}

fn load_feed(config: &Config) -> Result<Feed, Error> {
    let url = feed_url(config)?;
    let resp = http::Request::get(&url)
        .header(
            "Accept",
            "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.1",
        )
        .send()?
        .error_for_status()?;
    feed_rs::parser::parse(resp.bytes())
        .map_err(|e| Error::invalid_input(format!("{url} is not an RSS/Atom feed: {e}")))
}

fn millis(dt: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    dt.map(|d| d.timestamp_millis())
}

/// Turn HTML into readable text; plain text passes through.
pub fn html_to_text(html: &str) -> String {
    html2text::from_read(html.as_bytes(), 10_000)
        .unwrap_or_else(|_| html.to_string())
        .trim()
        .to_string()
}

/// One entry as normalized content.
pub fn entry_content(entry: &Entry) -> Content {
    let title = entry
        .title
        .as_ref()
        .map(|t| t.content.trim().to_string())
        .unwrap_or_else(|| "(untitled)".into());
    let html = entry
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
        .unwrap_or_default();
    let mut content = Content::text(&entry.id, "post", &title, &html_to_text(&html)).with_times(
        millis(entry.published),
        millis(entry.updated.or(entry.published)),
    );
    if let Some(link) = entry.links.first() {
        content = content.with_url(link.href.clone());
    }
    if let Some(author) = entry.authors.first() {
        content = content.with_author(author.name.clone(), author.email.clone());
    }
    if let Some(summary) = &entry.summary {
        content = content.with_meta("summary", html_to_text(&summary.content));
    }
    content
}

impl Provider for Substack {
    fn manifest() -> Manifest {
        ManifestBuilder::new("substack", "Substack")
            .description("Posts of a Substack publication, or of any RSS/Atom feed")
            .icon("substack")
            .category(Category::Media)
            .version(env!("CARGO_PKG_VERSION"))
            .capabilities(Capabilities {
                pull: true,
                incremental: true,
                webhooks: false,
                subscribe: false,
            })
            .rate_limits(30, None, 2)
            .allowed_host("*.substack.com")
            .allowed_host("config:feed_url")
            .field(
                "publication",
                "Publication (name.substack.com)",
                FieldKind::Text,
                false,
            )
            .field(
                "feed_url",
                "Feed URL (any RSS/Atom feed)",
                FieldKind::Url,
                false,
            )
            .build()
    }

    fn check(&mut self, config: &Config) -> Result<Account, Error> {
        let feed = load_feed(config)?;
        let name = feed
            .title
            .map(|t| t.content)
            .unwrap_or_else(|| "feed".into());
        Ok(Account {
            id: feed_url(config)?,
            name,
            email: None,
        })
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        let feed = self.feed_for_page(config, req.cursor.is_some())?;
        let after = match req.mode {
            ListMode::Incremental => req.modified_after,
            ListMode::Full => None,
        };
        let entries: Vec<&Entry> = feed
            .entries
            .iter()
            .filter(|e| {
                after.is_none_or(|t| millis(e.updated.or(e.published)).is_none_or(|m| m > t))
            })
            .collect();
        let cursor = OffsetCursor::parse(req.cursor.as_deref())?;
        let (page, next) = cursor.slice(&entries, (req.page_size as usize).clamp(1, MAX_PAGE));
        let resources = page
            .iter()
            .map(|e| Resource::with_content(entry_content(e)))
            .collect();
        Ok(match next {
            Some(n) => Page::more(resources, n.to_string()),
            None => Page::last(resources),
        })
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        let feed = load_feed(config)?;
        feed.entries
            .iter()
            .find(|e| e.id == id)
            .map(entry_content)
            .ok_or_else(|| Error::not_found(format!("entry {id:?} is no longer in the feed")))
    }
}

tributary_sdk::export!(Substack);
