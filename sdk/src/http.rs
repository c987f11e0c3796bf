//! Outbound HTTP through the host: allow-listed hosts only, credentials injected by the host.

use crate::__bindings::tributary::provider::http as raw;
use crate::Error;

pub use raw::Method;

/// A request builder.
///
/// ```no_run
/// use tributary_sdk::http::Request;
/// let resp = Request::get("https://api.example.com/items?page=1")
///     .header("Accept", "application/json")
///     .authenticated()
///     .send()?
///     .error_for_status()?;
/// let items: serde_json::Value = resp.json()?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Request(raw::Request);

impl Request {
    /// A request with any method.
    ///
    /// ```
    /// use tributary_sdk::http::{Method, Request};
    /// let _r = Request::new(Method::Delete, "https://api.example.com/hooks/1");
    /// ```
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request(raw::Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            authenticate: false,
            timeout_ms: None,
        })
    }

    /// A GET request.
    ///
    /// ```
    /// let _r = tributary_sdk::http::Request::get("https://example.com/feed");
    /// ```
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A POST request.
    ///
    /// ```
    /// let _r = tributary_sdk::http::Request::post("https://example.com/api").body(b"{}".to_vec());
    /// ```
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// Add a header.
    ///
    /// ```
    /// let _r = tributary_sdk::http::Request::get("https://e.com").header("Accept", "text/xml");
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.headers.push((name.into(), value.into()));
        self
    }

    /// Set the body.
    ///
    /// ```
    /// let _r = tributary_sdk::http::Request::post("https://e.com").body(vec![1, 2]);
    /// ```
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.0.body = Some(body);
        self
    }

    /// Set a JSON body and its content type.
    ///
    /// ```
    /// let _r = tributary_sdk::http::Request::post("https://e.com").json(&serde_json::json!({"a": 1}));
    /// ```
    pub fn json<T: serde::Serialize>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("serializing a value to JSON");
        self.header("Content-Type", "application/json").body(body)
    }

    /// Ask the host to add the integration's credentials (as the manifest says).
    ///
    /// ```
    /// let _r = tributary_sdk::http::Request::get("https://api.e.com/me").authenticated();
    /// ```
    pub fn authenticated(mut self) -> Self {
        self.0.authenticate = true;
        self
    }

    /// Give up sooner than the host's own timeout.
    ///
    /// ```
    /// let _r = tributary_sdk::http::Request::get("https://e.com").timeout_ms(2_000);
    /// ```
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.0.timeout_ms = Some(ms);
        self
    }

    /// Have the host perform the request.
    ///
    /// ```no_run
    /// let resp = tributary_sdk::http::Request::get("https://e.com").send()?;
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn send(self) -> Result<Response, Error> {
        #[cfg(target_arch = "wasm32")]
        return raw::send(&self.0).map(Response);
        // Compiled natively (tests, benchmarks): the handler set in `native` answers.
        #[cfg(not(target_arch = "wasm32"))]
        return crate::native::send(self.0).map(Response);
    }

    /// [`Request::send`] with an ETag cache in kv under `etag/<cache_key>`: a stored
    /// ETag goes out as `If-None-Match`, and a `304 Not Modified` is answered from the
    /// stored body as a 200 (with the 304's headers, which carry the rate-limit state).
    /// Providers that count 304s as free (GitHub) cost nothing when nothing changed.
    ///
    /// ```no_run
    /// let resp = tributary_sdk::http::Request::get("https://api.github.com/user/repos")
    ///     .authenticated()
    ///     .send_cached("repos")?;
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn send_cached(self, cache_key: &str) -> Result<Response, Error> {
        let tag_key = format!("etag/{cache_key}");
        let body_key = format!("etag-body/{cache_key}");
        let tag = crate::kv::get(&tag_key)?.and_then(|t| String::from_utf8(t).ok());
        let req = match &tag {
            Some(t) => self.header("If-None-Match", t.clone()),
            None => self,
        };
        let resp = req.send()?;
        if resp.status() == 304
            && tag.is_some()
            && let Some(body) = crate::kv::get(&body_key)?
        {
            return Ok(Response::from_parts(200, resp.0.headers, body));
        }
        if resp.status() == 200 {
            // A body too large to keep (a huge tree) is simply not cached; neither is one
            // the integration's storage quota refuses: caching saves requests, it must
            // never fail a walk.
            let kept = match resp.header("ETag") {
                Some(new_tag) if resp.bytes().len() <= MAX_CACHED_BODY => {
                    crate::kv::set(&body_key, resp.bytes())
                        .and_then(|()| crate::kv::set(&tag_key, new_tag.as_bytes()))
                        .is_ok()
                }
                _ => false,
            };
            if !kept && tag.is_some() {
                crate::kv::delete(&tag_key)?;
                crate::kv::delete(&body_key)?;
            }
        }
        Ok(resp)
    }
}

/// Largest body [`Request::send_cached`] keeps (kv values are capped at 1 MiB).
pub const MAX_CACHED_BODY: usize = 512 * 1024;

/// A provider's answer.
///
/// ```no_run
/// let r = tributary_sdk::http::Request::get("https://e.com").send()?;
/// println!("{} {}", r.status(), r.text());
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Response(raw::Response);

impl Response {
    /// HTTP status code.
    ///
    /// ```no_run
    /// # let r = tributary_sdk::http::Request::get("https://e.com").send()?;
    /// assert!(r.status() < 600);
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn status(&self) -> u16 {
        self.0.status
    }

    /// First header with this name (case-insensitive).
    ///
    /// ```no_run
    /// # let r = tributary_sdk::http::Request::get("https://e.com").send()?;
    /// let _etag = r.header("ETag");
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.0
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body bytes.
    ///
    /// ```no_run
    /// # let r = tributary_sdk::http::Request::get("https://e.com").send()?;
    /// let _n = r.bytes().len();
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn bytes(&self) -> &[u8] {
        &self.0.body
    }

    /// The body as text (invalid UTF-8 replaced).
    ///
    /// ```no_run
    /// # let r = tributary_sdk::http::Request::get("https://e.com").send()?;
    /// let _t = r.text();
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.body).into_owned()
    }

    /// Parse the body as JSON.
    ///
    /// ```no_run
    /// # let r = tributary_sdk::http::Request::get("https://e.com").send()?;
    /// let v: serde_json::Value = r.json()?;
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        Ok(serde_json::from_slice(&self.0.body)?)
    }

    /// Turn error statuses into typed errors: 401 unauthorized, 403 forbidden, 404 not
    /// found, 429 rate limited (with Retry-After), 5xx transient, other 4xx other.
    ///
    /// ```no_run
    /// let ok = tributary_sdk::http::Request::get("https://e.com").send()?.error_for_status()?;
    /// # Ok::<(), tributary_sdk::Error>(())
    /// ```
    pub fn error_for_status(self) -> Result<Self, Error> {
        let status = self.status();
        let detail = || {
            let text = self.text();
            let short: String = text.chars().take(200).collect();
            format!("HTTP {status}: {short}")
        };
        match status {
            200..=399 => Ok(self),
            401 => Err(Error::unauthorized(detail())),
            // GitHub and others answer an exhausted budget with 403 and 0 remaining, and
            // GitHub's secondary limits with 403 and `Retry-After`.
            403 if self.budget_exhausted() || self.header("Retry-After").is_some() => {
                Err(Error::rate_limited(self.retry_after_ms(), detail()))
            }
            403 => Err(Error::Forbidden(detail())),
            404 | 410 => Err(Error::not_found(detail())),
            429 => Err(Error::rate_limited(self.retry_after_ms(), detail())),
            500..=599 => Err(Error::transient(detail())),
            _ => Err(Error::other(detail())),
        }
    }

    /// Whether the rate-limit headers say the budget is spent (`X-RateLimit-Remaining`
    /// or `RateLimit-Remaining` at 0).
    ///
    /// ```
    /// # use tributary_sdk::http::Response;
    /// let r = Response::from_parts(403, vec![("X-RateLimit-Remaining".into(), "0".into())], vec![]);
    /// assert!(r.budget_exhausted());
    /// ```
    pub fn budget_exhausted(&self) -> bool {
        ["x-ratelimit-remaining", "ratelimit-remaining"]
            .iter()
            .filter_map(|h| self.header(h))
            .any(|v| v.trim() == "0")
    }

    /// How long the provider asked to wait, from `Retry-After` (seconds or HTTP date),
    /// else `X-RateLimit-Reset` / `RateLimit-Reset` (Unix seconds when large, seconds
    /// from now otherwise).
    ///
    /// ```
    /// # use tributary_sdk::http::Response;
    /// let r = Response::from_parts(429, vec![("Retry-After".into(), "7".into())], vec![]);
    /// assert_eq!(r.retry_after_ms(), Some(7_000));
    /// let r = Response::from_parts(429, vec![("RateLimit-Reset".into(), "30".into())], vec![]);
    /// assert_eq!(r.retry_after_ms(), Some(30_000));
    /// ```
    pub fn retry_after_ms(&self) -> Option<u64> {
        let now = crate::time::now_millis();
        if let Some(wait) = self
            .header("Retry-After")
            .and_then(|v| crate::time::retry_after_millis(v, now))
        {
            return Some(wait);
        }
        let reset: i64 = ["x-ratelimit-reset", "ratelimit-reset"]
            .iter()
            .find_map(|h| self.header(h))?
            .trim()
            .parse()
            .ok()?;
        // Unix seconds (GitHub, GitLab) are large; the IETF draft counts seconds from now.
        let wait_ms = if reset > 1_000_000_000 {
            reset * 1000 - now
        } else {
            reset * 1000
        };
        Some(wait_ms.max(0) as u64)
    }

    /// A response from its parts (native tests, cached answers).
    ///
    /// ```
    /// let r = tributary_sdk::http::Response::from_parts(204, vec![], vec![]);
    /// assert_eq!(r.status(), 204);
    /// ```
    pub fn from_parts(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Response {
        Response(raw::Response {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        Response(raw::Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: b"slow down".to_vec(),
        })
    }

    fn wait_of(r: Response) -> Option<u64> {
        match r.error_for_status() {
            Err(Error::RateLimited(rl)) => rl.retry_after_ms,
            other => panic!("expected rate limited, got {other:?}"),
        }
    }

    #[test]
    fn works_when_retry_after_is_an_http_date() {
        use time::format_description::well_known::Rfc2822;
        let at = crate::time::now_millis() / 1000 + 30;
        let date = time::OffsetDateTime::from_unix_timestamp(at)
            .unwrap()
            .format(&Rfc2822)
            .unwrap()
            .replace("+0000", "GMT");
        let wait = wait_of(answer(429, &[("Retry-After", &date)])).unwrap();
        // A wait from now, not from 1970.
        assert!((25_000..=31_000).contains(&wait), "{date}: {wait} ms");
        assert_eq!(wait_of(answer(429, &[("retry-after", "7")])), Some(7_000));
        assert_eq!(wait_of(answer(429, &[])), None);
    }

    #[test]
    fn works_when_403_with_nothing_remaining_is_a_rate_limit() {
        let reset = (crate::time::now_millis() / 1000 + 60).to_string();
        let wait = wait_of(answer(
            403,
            &[
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", &reset),
            ],
        ))
        .unwrap();
        assert!((55_000..=61_000).contains(&wait), "{wait}");
        assert_eq!(
            wait_of(answer(429, &[("RateLimit-Reset", "12")])),
            Some(12_000)
        );
        // GitHub's secondary limit: 403 with budget left but `Retry-After`.
        assert_eq!(
            wait_of(answer(
                403,
                &[("X-RateLimit-Remaining", "4000"), ("Retry-After", "60")]
            )),
            Some(60_000)
        );
        // 403 with budget left is a real refusal.
        match answer(403, &[("X-RateLimit-Remaining", "12")]).error_for_status() {
            Err(Error::Forbidden(_)) => {}
            other => panic!("expected forbidden, got {other:?}"),
        }
    }

    #[test]
    fn works_when_an_unchanged_resource_is_answered_from_the_etag_cache() {
        crate::native::reset();
        crate::native::set_http_handler(|req| {
            if !req.url.starts_with("https://etag.test/") {
                return Ok((404, vec![], vec![]));
            }
            let tagged = req
                .headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("if-none-match") && v == "\"v1\"");
            Ok(if tagged {
                (
                    304,
                    vec![("x-ratelimit-remaining".into(), "41".into())],
                    vec![],
                )
            } else {
                (
                    200,
                    vec![("ETag".into(), "\"v1\"".into())],
                    b"[1,2,3]".to_vec(),
                )
            })
        });
        let first = Request::get("https://etag.test/items")
            .send_cached("items")
            .unwrap();
        assert_eq!(
            (first.status(), first.bytes()),
            (200, b"[1,2,3]".as_slice())
        );
        let second = Request::get("https://etag.test/items")
            .send_cached("items")
            .unwrap();
        assert_eq!(
            (second.status(), second.bytes()),
            (200, b"[1,2,3]".as_slice())
        );
        assert_eq!(second.header("x-ratelimit-remaining"), Some("41"));
        assert_eq!(crate::native::kv_snapshot().len(), 2);
    }
}
