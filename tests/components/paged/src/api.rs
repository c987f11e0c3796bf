//! The logic of a provider over a paginated JSON API with versions, shared by the
//! `paged` and `paced` test components and compiled natively by the throughput
//! benchmark: list pages carry id + version (and the item itself when the API inlines
//! it), fetch returns one item, incremental walks ask for items updated since a time.
//! A `collection` config value scopes every request to one collection of the API.

use serde::Deserialize;
use tributary_sdk::prelude::*;

/// Where the API lives (tests point it at loopback through an admin override).
pub const API: &str = "https://api.paged.test";

#[derive(Deserialize)]
struct Listed {
    id: String,
    version: String,
    updated: i64,
    title: Option<String>,
    body: Option<String>,
    #[serde(default)]
    mime: Option<String>,
    #[serde(default)]
    url: Option<String>,
    /// Inline content that is a file the host downloads (a path on the API).
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Deserialize)]
struct ListResponse {
    items: Vec<Listed>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    title: String,
    body: String,
    updated: i64,
    #[serde(default)]
    mime: Option<String>,
    #[serde(default)]
    url: Option<String>,
    /// A file the host downloads itself (a path on the API), with its reported size.
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

fn scope(config: &Config) -> String {
    config
        .get("collection")
        .map(|c| format!("collection={c}&"))
        .unwrap_or_default()
}

/// One page of the listing.
pub fn list(config: &Config, req: ListRequest) -> Result<Page, Error> {
    let mut url = format!(
        "{API}/items?{}limit={}",
        scope(config),
        req.page_size.clamp(1, 1000)
    );
    if let Some(c) = &req.cursor {
        url.push_str(&format!("&cursor={c}"));
    }
    if let (ListMode::Incremental, Some(t)) = (req.mode, req.modified_after) {
        url.push_str(&format!("&since={t}"));
    }
    let resp: ListResponse = http::Request::get(url).send()?.error_for_status()?.json()?;
    let resources = resp
        .items
        .into_iter()
        .map(|i| match (i.title, i.body) {
            (Some(title), Some(_)) if i.file.is_some() => {
                let file = i.file.as_deref().unwrap_or_default();
                let mime = i.mime.as_deref().unwrap_or("application/octet-stream");
                let content = download(&i.id, &title, mime, file, i.updated, i.size);
                let mut r = Resource::with_content(content);
                r.version = Some(i.version);
                r
            }
            (Some(title), Some(body)) => {
                let mut r =
                    Resource::with_content(content(&i.id, &title, body, i.updated, i.mime, i.url));
                r.version = Some(i.version);
                r
            }
            _ => {
                let mut r = Resource::reference(&i.id, "item", &i.id, Some(i.version));
                r.modified_at = Some(i.updated);
                r
            }
        })
        .collect();
    Ok(match resp.next {
        Some(n) => Page::more(resources, n),
        None => Page::last(resources),
    })
}

/// One item.
pub fn fetch(config: &Config, id: &str) -> Result<Content, Error> {
    let item: Item = http::Request::get(format!("{API}/items/{id}?{}", scope(config)))
        .send()?
        .error_for_status()?
        .json()?;
    if let Some(file) = &item.file {
        let mime = item.mime.as_deref().unwrap_or("application/octet-stream");
        return Ok(download(
            &item.id,
            &item.title,
            mime,
            file,
            item.updated,
            item.size,
        ));
    }
    Ok(content(
        &item.id,
        &item.title,
        item.body,
        item.updated,
        item.mime,
        item.url,
    ))
}

/// A file the host downloads: a path on the API, or an absolute URL as it is (a test points
/// one at a host the plugin may not reach).
fn download(
    id: &str,
    title: &str,
    mime: &str,
    file: &str,
    updated: i64,
    size: Option<u64>,
) -> Content {
    let url = match file.starts_with("http") {
        true => file.to_string(),
        false => format!("{API}{file}"),
    };
    let version = updated.to_string();
    let mut c = Content::download(id, "file", title, mime, &url, &version, size)
        .with_times(None, Some(updated));
    // This API takes no credentials (the integration has none to add).
    if let Body::Download(d) = &mut c.body {
        d.authenticate = false;
    }
    c
}

/// An item's content: text, or bytes of the item's mime type (HTML, Markdown, ...) that
/// the host extracts.
fn content(
    id: &str,
    title: &str,
    body: String,
    updated: i64,
    mime: Option<String>,
    url: Option<String>,
) -> Content {
    let c = match mime {
        Some(m) => Content::bytes(id, "item", title, &m, body.into_bytes()),
        None => Content::text(id, "item", title, &body),
    }
    .with_times(None, Some(updated));
    match url {
        Some(u) => c.with_url(u),
        None => c,
    }
}
