//! The web UI: a small single-page app (plain ES modules, no build step) embedded in the
//! binary and served at `/`. It talks only to the documented REST API. Every response of
//! the host carries a strict Content-Security-Policy (scripts and styles from this origin
//! only, no inline script, no framing), `nosniff` and a referrer policy, so text a plugin
//! or provider supplied can never run as script here even if a page mishandled it.

use axum::Router;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The policy on every response: nothing loads or runs unless it comes from this origin,
/// and no other site may frame a page.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

macro_rules! asset {
    ($path:literal, $mime:literal, $file:literal) => {
        (
            $path,
            $mime,
            include_bytes!(concat!("../ui/", $file)) as &[u8],
        )
    };
}

/// Every embedded file: path served, content type, bytes.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("/", "text/html; charset=utf-8", "index.html"),
    asset!("/ui/app.css", "text/css; charset=utf-8", "app.css"),
    asset!("/ui/icon.svg", "image/svg+xml", "icon.svg"),
    asset!("/ui/main.js", "text/javascript; charset=utf-8", "main.js"),
    asset!("/ui/api.js", "text/javascript; charset=utf-8", "api.js"),
    asset!("/ui/dom.js", "text/javascript; charset=utf-8", "dom.js"),
    asset!(
        "/ui/signin.js",
        "text/javascript; charset=utf-8",
        "signin.js"
    ),
    asset!(
        "/ui/integrations.js",
        "text/javascript; charset=utf-8",
        "integrations.js"
    ),
    asset!(
        "/ui/detail.js",
        "text/javascript; charset=utf-8",
        "detail.js"
    ),
    asset!(
        "/ui/search.js",
        "text/javascript; charset=utf-8",
        "search.js"
    ),
    asset!("/ui/orgs.js", "text/javascript; charset=utf-8", "orgs.js"),
    asset!("/ui/admin.js", "text/javascript; charset=utf-8", "admin.js"),
    asset!(
        "/ui/admin_plugins.js",
        "text/javascript; charset=utf-8",
        "admin_plugins.js"
    ),
];

/// Routes for the embedded files.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for &(path, mime, body) in ASSETS {
        router = router.route(
            path,
            get(move || async move {
                (
                    [
                        (CONTENT_TYPE, HeaderValue::from_static(mime)),
                        // Revalidated on each load, so an upgraded binary's UI is seen at once.
                        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    ],
                    body,
                )
                    .into_response()
            }),
        );
    }
    router
}

/// Middleware: the security headers every response gets.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", CSP);
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_no_asset_holds_inline_script_or_handlers() {
        // The CSP would block them; this keeps the pages honest about it.
        for (path, _, body) in ASSETS {
            let text = std::str::from_utf8(body).unwrap();
            if path.ends_with(".js") {
                assert!(
                    !text.contains(".innerHTML"),
                    "{path} writes HTML from strings"
                );
                assert!(
                    !text.contains("insertAdjacentHTML"),
                    "{path} writes HTML from strings"
                );
                assert!(
                    !text.contains("document.write"),
                    "{path} writes HTML from strings"
                );
                assert!(!text.contains("eval("), "{path} evaluates strings");
            } else if path.ends_with('/') {
                assert!(!text.contains("<script>"), "{path} has inline script");
                for handler in [" onload=", " onclick=", " onerror=", " onsubmit="] {
                    assert!(!text.contains(handler), "{path} carries an inline handler");
                }
            }
        }
    }
}
