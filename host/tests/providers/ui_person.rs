//! The web UI as a person meets it, in a real Chromium: sign in, connect Substack (a
//! form) and Google Drive (the OAuth redirect dance against the fake Google), watch the
//! first syncs reach completion, change settings, pause and resume, search and open a
//! result, disconnect with purge. And a feed whose titles, links and name are hostile
//! runs no script anywhere in the pages.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header;
use axum::routing::get;
use serde_json::json;
use tributary::db::Owner;
use tributary::sync::{EngineConfig, SyncEngine, Workers};

use crate::browser;
use crate::common::*;
use crate::drive_fake;
use crate::google_oauth;
use crate::sign_in::{PASSWORD, user_with_password};

/// A served host whose sync workers run (browsers land on its own pages after OAuth).
pub async fn ui_host(components: &[&str]) -> (Served, Workers) {
    let s = serve_host_tuned(None, components, true, |c| c.frontend_url = None).await;
    let engine = Arc::new(SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    ));
    let workers = engine.spawn(2, Duration::from_millis(250));
    (s, workers)
}

/// An RSS feed on loopback; its URL.
pub async fn feed(title: &str, items: &[(&str, &str, &str)]) -> String {
    let mut xml = String::new();
    for (i, (t, link, body)) in items.iter().enumerate() {
        xml.push_str(&format!(
            "<item><title><![CDATA[{t}]]></title><link>{link}</link><guid isPermaLink=\"false\">p-{i}</guid>\
             <pubDate>Mon, 0{d} Jan 2024 10:00:00 GMT</pubDate><content:encoded><![CDATA[<p>{body}</p>]]></content:encoded></item>",
            d = 1 + i % 8
        ));
    }
    let doc = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\
         <channel><title><![CDATA[{title}]]></title><link>https://example.org</link><description>d</description>{xml}</channel></rss>"
    );
    let router = axum::Router::new().route(
        "/feed",
        get(move || async move { ([(header::CONTENT_TYPE, "application/rss+xml")], doc) }),
    );
    format!("http://{}/feed", serve(router).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_person_signs_in_connects_syncs_searches_and_disconnects() {
    let Some(b) = browser::start().await else {
        return;
    };
    let drive: drive_fake::Shared = Arc::new(Mutex::new(crate::gdrive::fixture()));
    drive.lock().unwrap().access_token = "not-issued-yet".into();
    let to_drive = drive.clone();
    let oauth = google_oauth::new(Box::new(move |access, _| {
        to_drive.lock().unwrap().access_token = access.into()
    }));
    let fake = format!(
        "http://{}",
        serve(drive_fake::router(drive.clone()).merge(google_oauth::router(oauth))).await
    );
    let posts = feed(
        "River Notes",
        &[
            (
                "Kelp forest restoration",
                "https://rivernotes.example/p/kelp",
                "Divers replanted kelp along the estuary mouth.",
            ),
            (
                "Salmon ladders",
                "https://rivernotes.example/p/salmon",
                "Fish passages around the weir.",
            ),
        ],
    )
    .await;
    let (s, _workers) = ui_host(&["substack", "gdrive"]).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    google_oauth::configure(
        &google_oauth::client(),
        &s.base,
        &root,
        "gdrive",
        (&fake, &fake),
        &["https://www.googleapis.com"],
    )
    .await;
    let ada = user_with_password(&db, "ada@t.test", false).await;
    let me = Owner::User(ada.id.clone());

    b.sign_in(&s.base, "ada@t.test", PASSWORD).await;
    b.wait_text("main", "No integrations yet — connect one below.")
        .await;
    b.screenshot("01-integrations-empty").await;

    // Substack: a form from the manifest's config schema.
    b.click("a[href='#/connect/substack']").await;
    b.fill("#connect-form input[name=feed_url]", &posts).await;
    b.screenshot("02-connect-substack").await;
    b.click("#connect-form button[type=submit]").await;
    b.wait_hash("#/integrations/substack").await;
    b.wait_text("main table", "COMPLETED").await;
    b.wait_text("main", "Connected as River Notes").await;

    // Google Drive: the browser goes to the fake Google, comes back through the callback.
    b.goto(&format!("{}/#/connect/gdrive", s.base)).await;
    b.click("#connect-form button[type=submit]").await;
    b.wait_hash("#/integrations/gdrive").await;
    b.wait_text("#toast", "Connected gdrive").await;
    b.find("#current-job progress, main table").await;
    b.screenshot("03-drive-first-sync").await;
    b.wait_text("main table", "COMPLETED").await;
    b.wait_text("main", "last sync").await;
    b.screenshot("04-drive-synced").await;
    let gdrive = db.integration(&me, "gdrive").await.unwrap().unwrap();
    assert_eq!(gdrive.status, "ACTIVE");
    assert!(
        held(&db, &gdrive.id).await.len() > 500,
        "the first walk indexed Drive"
    );

    // Settings, pause and resume.
    b.find("#settings-form select[name=sync_frequency]")
        .await
        .select_by_value("DAILY")
        .await
        .unwrap();
    b.click("#settings-form button[type=submit]").await;
    b.wait_text("#toast", "Settings saved.").await;
    let saved = db.integration(&me, "gdrive").await.unwrap().unwrap();
    assert_eq!(saved.sync_frequency, "DAILY");
    b.click("#pause").await;
    b.find("#resume").await;
    assert_eq!(
        db.integration(&me, "gdrive").await.unwrap().unwrap().status,
        "PAUSED"
    );
    b.screenshot("05-paused").await;
    b.click("#resume").await;
    b.find("#pause").await;
    assert_eq!(
        db.integration(&me, "gdrive").await.unwrap().unwrap().status,
        "ACTIVE"
    );

    // Sync now: the page follows the walk over server-sent events until it completes.
    b.click("#sync-now").await;
    b.wait_text("#toast", "Sync queued.").await;
    eventually("the manual sync completes", browser::WAIT, async || {
        let jobs = db.sync_jobs(Some(&gdrive.id), 10).await.unwrap();
        jobs.iter()
            .any(|j| j.trigger == "manual" && j.status == "COMPLETED")
    })
    .await;
    b.wait_text("main table tbody tr:first-child", "manual")
        .await;
    b.wait_text("main table tbody tr:first-child", "COMPLETED")
        .await;

    // Search across both, and open a result at its source.
    b.click("nav a[href='#/search']").await;
    b.fill("#search-form input[name=q]", "kelp forest restoration")
        .await;
    b.click("#search-form button[type=submit]").await;
    b.wait_text("#results", "Kelp forest restoration").await;
    b.fill("#search-form input[name=q]", "river delta plan")
        .await;
    b.click("#search-form button[type=submit]").await;
    b.wait_text("#results", "Google Drive").await;
    b.screenshot("06-search").await;
    b.fill("#search-form input[name=q]", "kelp forest restoration")
        .await;
    b.click("#search-form button[type=submit]").await;
    b.wait_text("#results", "Kelp forest restoration").await;
    let link = b.find("#results .result h3 a").await;
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some("https://rivernotes.example/p/kelp")
    );
    assert_eq!(
        link.attr("rel").await.unwrap().as_deref(),
        Some("noopener noreferrer")
    );
    link.click().await.unwrap();
    eventually("the result opens in a new tab", browser::WAIT, async || {
        b.client.windows().await.unwrap().len() == 2
    })
    .await;

    // Both on the integrations page, for a person to look at (the README shows it).
    b.client
        .switch_to_window(b.client.windows().await.unwrap()[0].clone())
        .await
        .unwrap();
    b.goto(&format!("{}/#/integrations", s.base)).await;
    b.wait_text("main", "as River Notes").await;
    b.wait_text("main", "as Ada Lovelace").await;
    b.screenshot("07-integrations").await;

    // Disconnect Substack with purge: its posts leave the index.
    let substack = db.integration(&me, "substack").await.unwrap().unwrap();
    assert_eq!(held(&db, &substack.id).await.len(), 2);
    b.goto(&format!("{}/#/integrations/substack", s.base)).await;
    b.click("#purge").await;
    b.click("#disconnect-form button[type=submit]").await;
    b.client.accept_alert().await.unwrap();
    b.wait_hash("#/integrations").await;
    b.wait_text("#toast", "disconnected").await;
    assert_eq!(
        db.integration(&me, "substack")
            .await
            .unwrap()
            .unwrap()
            .status,
        "DISCONNECTED"
    );
    let key = db.create_api_key(&ada).await.unwrap();
    let found = search(&s.base, &key, "kelp forest restoration").await;
    assert!(
        found["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["provider"] != "substack"),
        "{found}"
    );
    b.set_phone().await;
    b.screenshot("08-integrations-phone").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_hostile_titles_and_links_run_no_script() {
    let Some(b) = browser::start().await else {
        return;
    };
    const PWN: &str = "window.__pwned=(window.__pwned||0)+1";
    let posts = feed(
        &format!("<img src=x onerror=\"{PWN}\">Evil Letter"),
        &[
            (
                &format!("<script>{PWN}</script><img src=x onerror=\"{PWN}\"> tidewater"),
                &format!("javascript:{PWN}"),
                "tidewater story one",
            ),
            (
                "<a href=\"javascript:alert(1)\">tidewater two</a>",
                "data:text/html,<script>alert(1)</script>",
                &format!("tidewater <img src=x onerror=\"{PWN}\">"),
            ),
        ],
    )
    .await;
    let (s, _workers) = ui_host(&["substack"]).await;
    let db = s.state.db().clone();
    let eve = user_with_password(&db, "eve@t.test", false).await;
    b.sign_in(&s.base, "eve@t.test", PASSWORD).await;
    b.click("a[href='#/connect/substack']").await;
    b.fill("#connect-form input[name=feed_url]", &posts).await;
    b.click("#connect-form button[type=submit]").await;
    b.wait_hash("#/integrations/substack").await;
    b.wait_text("main table", "COMPLETED").await;
    let i = db
        .integration(&Owner::User(eve.id.clone()), "substack")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        held(&db, &i.id).await.len(),
        2,
        "both hostile posts are indexed"
    );

    b.goto(&format!("{}/#/integrations", s.base)).await;
    b.wait_text("main", "Evil Letter").await;
    b.goto(&format!("{}/#/search", s.base)).await;
    b.fill("#search-form input[name=q]", "tidewater").await;
    b.click("#search-form button[type=submit]").await;
    b.wait_text("#results", "tidewater").await;
    b.screenshot("09-hostile-search").await;
    // The markup shows as text; no link goes anywhere but http(s).
    let hrefs = b
        .js("return [...document.querySelectorAll('a')].map(a => a.getAttribute('href') || '')")
        .await;
    for h in hrefs.as_array().unwrap() {
        let h = h.as_str().unwrap();
        assert!(
            h.starts_with('#')
                || h.starts_with("http://")
                || h.starts_with("https://")
                || h.is_empty(),
            "{h}"
        );
    }
    assert_eq!(
        b.js("return document.querySelectorAll('#results img, #results script, main img').length")
            .await,
        json!(0)
    );
    // Clicking the hostile title does nothing; an injected inline script is blocked by the CSP.
    b.click("#results .result h3 > span:not(.picon)").await;
    b.js("const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.body.append(s); return 0").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        b.js("return [window.__pwned === undefined, window.__inline === undefined]")
            .await,
        json!([true, true])
    );
    b.close().await;
}
