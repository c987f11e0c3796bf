//! Cursor helpers for the common pagination styles.

use crate::Error;

/// An offset cursor for providers that page by position (feeds, `?page=` APIs).
///
/// ```
/// use tributary_sdk::paging::OffsetCursor;
/// let c = OffsetCursor::parse(None).unwrap();
/// assert_eq!(c.offset, 0);
/// let next = c.advance(50);
/// assert_eq!(OffsetCursor::parse(Some(&next.to_string())).unwrap().offset, 50);
/// assert!(OffsetCursor::parse(Some("garbage")).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCursor {
    /// Index of the first item of the page.
    pub offset: usize,
}

impl OffsetCursor {
    /// Parse a cursor the host handed back; none means the first page.
    ///
    /// ```
    /// # use tributary_sdk::paging::OffsetCursor;
    /// assert_eq!(OffsetCursor::parse(Some("offset:7")).unwrap().offset, 7);
    /// ```
    pub fn parse(cursor: Option<&str>) -> Result<Self, Error> {
        match cursor {
            None => Ok(OffsetCursor { offset: 0 }),
            Some(c) => c
                .strip_prefix("offset:")
                .and_then(|n| n.parse().ok())
                .map(|offset| OffsetCursor { offset })
                .ok_or_else(|| Error::invalid_input(format!("not an offset cursor: {c:?}"))),
        }
    }

    /// The cursor `n` items further.
    ///
    /// ```
    /// # use tributary_sdk::paging::OffsetCursor;
    /// assert_eq!(OffsetCursor { offset: 2 }.advance(3).offset, 5);
    /// ```
    pub fn advance(self, n: usize) -> Self {
        OffsetCursor {
            offset: self.offset + n,
        }
    }

    /// Take the page `[offset, offset + page_size)` of `items` and the cursor after it
    /// (none when the page reaches the end).
    ///
    /// ```
    /// # use tributary_sdk::paging::OffsetCursor;
    /// let items: Vec<u32> = (0..5).collect();
    /// let (page, next) = OffsetCursor { offset: 3 }.slice(&items, 10);
    /// assert_eq!(page, &[3, 4]);
    /// assert!(next.is_none());
    /// ```
    pub fn slice<T>(self, items: &[T], page_size: usize) -> (&[T], Option<OffsetCursor>) {
        let start = self.offset.min(items.len());
        let end = start.saturating_add(page_size.max(1)).min(items.len());
        let next = (end < items.len()).then_some(OffsetCursor { offset: end });
        (&items[start..end], next)
    }
}

impl std::fmt::Display for OffsetCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "offset:{}", self.offset)
    }
}

/// The `rel="next"` URL of an HTTP `Link` header (GitHub, GitLab style pagination).
///
/// ```
/// use tributary_sdk::paging::next_link;
/// let h = r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#;
/// assert_eq!(next_link(h).as_deref(), Some("https://api.github.com/x?page=2"));
/// assert_eq!(next_link(r#"<https://a/x?page=5>; rel="last""#), None);
/// ```
pub fn next_link(link_header: &str) -> Option<String> {
    link_header.split(',').find_map(|part| {
        let (url, params) = part.trim().split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// The next page of an HTTP-paged listing: the `Link` header's `rel="next"` (GitHub,
/// GitLab keyset pages), else GitLab's `X-Next-Page` number put into `current`'s `page`
/// parameter. An empty `X-Next-Page` is the last page. GitLab leaves out `X-Total-Pages`
/// past 10,000 items, so it is never needed.
///
/// ```
/// use tributary_sdk::http::Response;
/// use tributary_sdk::paging::next_url;
/// let h = |k: &str, v: &str| Response::from_parts(200, vec![(k.into(), v.into())], vec![]);
/// let gl = h("X-Next-Page", "3");
/// assert_eq!(next_url("https://gl/api/v4/projects/1/issues?per_page=100&page=2", &gl).as_deref(),
///            Some("https://gl/api/v4/projects/1/issues?per_page=100&page=3"));
/// assert_eq!(next_url("https://gl/api/v4/x?per_page=100", &gl).as_deref(), Some("https://gl/api/v4/x?per_page=100&page=3"));
/// assert_eq!(next_url("https://gl/x", &h("X-Next-Page", "")), None);
/// let gh = h("Link", r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next""#);
/// assert_eq!(next_url("https://api.github.com/repos/o/r/issues", &gh).as_deref(), Some("https://api.github.com/repositories/1/issues?page=2"));
/// ```
pub fn next_url(current: &str, resp: &crate::http::Response) -> Option<String> {
    if let Some(next) = resp.header("link").and_then(next_link) {
        return Some(next);
    }
    let page = resp
        .header("x-next-page")
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?;
    let (path, query) = current.split_once('?').unwrap_or((current, ""));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .map(str::to_string)
        .collect();
    params.push(format!("page={page}"));
    Some(format!("{path}?{}", params.join("&")))
}

/// A continuation token carried in a JSON body (Google `nextPageToken`, Slack
/// `response_metadata.next_cursor`, Notion `next_cursor`), found by JSON pointer. Missing,
/// `null` and `""` all mean "no more pages" (Slack ends with an empty string).
///
/// ```
/// use serde_json::json;
/// use tributary_sdk::paging::next_token;
/// let slack = json!({"ok": true, "response_metadata": {"next_cursor": "dXNlcjpVMEc5V0ZYTlo="}});
/// assert_eq!(next_token(&slack, "/response_metadata/next_cursor").as_deref(), Some("dXNlcjpVMEc5V0ZYTlo="));
/// assert_eq!(next_token(&json!({"response_metadata": {"next_cursor": ""}}), "/response_metadata/next_cursor"), None);
/// assert_eq!(next_token(&json!({"nextPageToken": null}), "/nextPageToken"), None);
/// assert_eq!(next_token(&json!({}), "/nextPageToken"), None);
/// ```
pub fn next_token(body: &serde_json::Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
