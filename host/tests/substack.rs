//! The Substack plugin inside the real host, against feeds served on loopback.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use common::*;
use tributary::model::PluginError;
use tributary::model::{Body, ListMode, ListRequest};
use tributary::runtime::{CallError, Integration, Limits};

const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Blog</title><id>urn:blog</id><updated>2024-03-01T00:00:00Z</updated>
<entry><title>Atom entry</title><id>urn:e1</id><link href="https://blog.example.org/e1"/><updated>2024-03-01T00:00:00Z</updated><author><name>Ada</name></author><content type="html">&lt;p&gt;Hello &lt;i&gt;atom&lt;/i&gt;&lt;/p&gt;</content></entry></feed>"#;

/// Serves `/feed` (RSS of `n`), `/atom`, and `/flaky` whose status the test sets.
async fn feed_server(n: usize, flaky: Arc<AtomicU16>) -> std::net::SocketAddr {
    let body = rss(n);
    let router = Router::new()
        .route(
            "/feed",
            get(move || async move { ([(header::CONTENT_TYPE, "application/rss+xml")], body) }),
        )
        .route(
            "/atom",
            get(|| async { ([(header::CONTENT_TYPE, "application/atom+xml")], ATOM) }),
        )
        .route("/html", get(|| async { "<html>not a feed</html>" }))
        .route(
            "/flaky",
            get(move || async move {
                let status = StatusCode::from_u16(flaky.load(Ordering::SeqCst)).unwrap();
                (status, [(header::RETRY_AFTER, "7")], "upstream trouble").into_response()
            }),
        );
    serve(router).await
}

fn feed(url: String) -> Option<Integration> {
    Some(Integration::new("sub-1", vec![("feed_url".into(), url)]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_syncing_a_feed_page_by_page() {
    let t = host(None, &["substack"], Limits::default(), true).await;
    let addr = feed_server(250, Arc::default()).await;
    let mut s = t
        .runtime
        .session("substack", feed(format!("http://{addr}/feed")))
        .await
        .unwrap();

    let account = s.check().await.unwrap();
    assert_eq!(account.name, "Demo Letter");

    let mut all = Vec::new();
    let mut req = full(100);
    loop {
        let page = s.list(&req).await.unwrap();
        assert!(page.resources.len() <= 100);
        all.extend(page.resources);
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(all.len(), 250);
    let ids: std::collections::HashSet<_> = all.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 250, "no duplicates across pages");

    let post7 = all.iter().find(|r| r.id == "post-7").unwrap();
    let c = post7.content.as_ref().expect("feeds carry content inline");
    assert_eq!(c.title, "Post 7");
    assert_eq!(c.url.as_deref(), Some("https://demo.substack.com/p/post-7"));
    assert_eq!(c.author.as_ref().unwrap().name, "Author 1");
    let Body::Text(text) = &c.body else {
        panic!("text body expected")
    };
    assert!(
        text.contains("Heading 7") && text.contains("post 7") && text.contains("& more"),
        "{text}"
    );
    assert!(
        !text.contains("<b>") && !text.contains("evil()"),
        "HTML must be gone: {text}"
    );
    assert_eq!(
        c.created_at,
        Some(1_704_672_000_000),
        "2024-01-08T00:00:00Z"
    );
    let fetched = s.fetch("post-7").await.unwrap();
    assert_eq!(fetched.content_hash, c.content_hash);
    let missing = s.fetch("post-9999").await.unwrap_err();
    assert!(
        matches!(missing, CallError::Plugin(PluginError::NotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_listing_incrementally_by_date() {
    let t = host(None, &["substack"], Limits::default(), true).await;
    let addr = feed_server(60, Arc::default()).await;
    let mut s = t
        .runtime
        .session("substack", feed(format!("http://{addr}/feed")))
        .await
        .unwrap();
    let everything = s.list(&full(1000)).await.unwrap().resources;
    let mut times: Vec<i64> = everything.iter().map(|r| r.modified_at.unwrap()).collect();
    times.sort();
    let cut = times[49];
    let req = ListRequest {
        mode: ListMode::Incremental,
        modified_after: Some(cut),
        cursor: None,
        sync_token: None,
        page_size: 1000,
    };
    let newer = s.list(&req).await.unwrap().resources;
    assert_eq!(
        newer.len(),
        everything
            .iter()
            .filter(|r| r.modified_at.unwrap() > cut)
            .count()
    );
    assert!(!newer.is_empty() && newer.len() < 60);
    assert!(newer.iter().all(|r| r.modified_at.unwrap() > cut));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_feed_is_atom() {
    let t = host(None, &["substack"], Limits::default(), true).await;
    let addr = feed_server(0, Arc::default()).await;
    let mut s = t
        .runtime
        .session("substack", feed(format!("http://{addr}/atom")))
        .await
        .unwrap();
    let page = s.list(&full(10)).await.unwrap();
    assert_eq!(page.resources.len(), 1);
    let c = page.resources[0].content.as_ref().unwrap();
    assert_eq!((c.id.as_str(), c.title.as_str()), ("urn:e1", "Atom entry"));
    let Body::Text(text) = &c.body else { panic!() };
    assert!(
        text.contains("Hello") && text.contains("atom") && !text.contains("<p>"),
        "{text}"
    );
    assert_eq!(c.updated_at, Some(1_709_251_200_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_the_feed_fails_in_typed_ways() {
    let t = host(None, &["substack"], Limits::default(), true).await;
    let status = Arc::new(AtomicU16::new(503));
    let addr = feed_server(0, status.clone()).await;
    let mut s = t
        .runtime
        .session("substack", feed(format!("http://{addr}/flaky")))
        .await
        .unwrap();
    let err = s.list(&full(10)).await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::Transient(_))),
        "{err:?}"
    );
    status.store(429, Ordering::SeqCst);
    let err = s.list(&full(10)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(r)) if r.retry_after_ms == Some(7000)),
        "{err:?}"
    );
    status.store(404, Ordering::SeqCst);
    let err = s.list(&full(10)).await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::NotFound(_))),
        "{err:?}"
    );

    let mut s = t
        .runtime
        .session("substack", feed(format!("http://{addr}/html")))
        .await
        .unwrap();
    let err = s.list(&full(10)).await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::InvalidInput(_))),
        "{err:?}"
    );

    let mut s = t
        .runtime
        .session("substack", Some(Integration::new("x", vec![])))
        .await
        .unwrap();
    let err = s.list(&full(10)).await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::InvalidConfig(_))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_user_points_the_feed_at_a_private_address() {
    // Default egress: loopback and private networks are off limits, by literal or by name.
    let t = host(None, &["substack"], Limits::default(), false).await;
    let addr = feed_server(3, Arc::default()).await;
    for url in [
        format!("http://{addr}/feed"),
        format!("http://localhost:{}/feed", addr.port()),
    ] {
        let mut s = t
            .runtime
            .session("substack", feed(url.clone()))
            .await
            .unwrap();
        let err = s.list(&full(10)).await.unwrap_err();
        assert!(
            matches!(&err, CallError::Plugin(PluginError::Forbidden(m)) if m.contains("private")),
            "{url}: {err:?}"
        );
    }
}
