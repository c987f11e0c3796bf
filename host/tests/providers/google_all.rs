//! The "done": an admin sets one Google OAuth client on a fresh host, a user
//! connects Drive, Gmail and Calendar through Google's consent screen, everything syncs,
//! and one search finds what each holds.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use crate::common::*;
use crate::{calendar_fake, drive_fake, gcalendar, gdrive, gmail, gmail_fake, google_oauth};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_one_user_connects_drive_gmail_and_calendar_and_searches_across_them() {
    let mut d = gdrive::fixture();
    d.put(drive_fake::FakeFile {
        id: "hartley-plan".into(),
        name: "Maintenance plan".into(),
        mime: "text/plain".into(),
        parents: vec!["root".into()],
        drive_id: None,
        trashed: false,
        version: 1,
        modified: "2024-08-01T10:00:00.000Z".into(),
        body: b"Hartley Weir maintenance plan for the spring floods".to_vec(),
        size: None,
    });
    let drive: drive_fake::Shared = Arc::new(Mutex::new(d));
    let mut c = gcalendar::fixture();
    c.put("primary", json!({"id": "hartley01", "summary": "Hartley Weir walkthrough",
        "start": {"dateTime": "2026-03-20T09:00:00Z"}, "end": {"dateTime": "2026-03-20T10:00:00Z"}}));
    let cal: calendar_fake::Shared = Arc::new(Mutex::new(c));
    let mut m = gmail::fixture();
    let mut note = gmail::msg(800, &["INBOX"]);
    note.subject = "Hartley Weir permits".into();
    note.payload = gmail_fake::plain(&note.from, &note.subject, note.at, "The permits arrived.");
    m.add(note);
    let mail: gmail_fake::Shared = Arc::new(Mutex::new(m));

    // One consent screen for the three; each token goes to the API it was granted for.
    let (d2, c2, m2) = (drive.clone(), cal.clone(), mail.clone());
    let oauth = google_oauth::new(Box::new(move |access, scopes| {
        let all = scopes.join(" ");
        if all.contains("/auth/drive") {
            d2.lock().unwrap().access_token = access.into();
        } else if all.contains("/auth/calendar") {
            c2.lock().unwrap().access_token = access.into();
        } else {
            let mut m = m2.lock().unwrap();
            m.access_token = access.into();
            m.scopes = scopes.to_vec();
        }
    }));
    let accounts = format!(
        "http://{}",
        serve(google_oauth::router(oauth.clone())).await
    );
    let drive_api = format!("http://{}", serve(drive_fake::router(drive)).await);
    let cal_api = format!("http://{}", serve(calendar_fake::router(cal)).await);
    let mail_api = format!("http://{}", serve(gmail_fake::router(mail)).await);

    let s = serve_host(None, &["gdrive", "gmail", "gcalendar"], true).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let (_, key) = user_with_key(&db, "ada@t.test", false).await;
    let http = google_oauth::client();
    let www = ["https://www.googleapis.com"];
    let gmail_apis = ["https://gmail.googleapis.com", "https://www.googleapis.com"];
    for (provider, api, apis) in [
        ("gdrive", &drive_api, &www[..]),
        ("gcalendar", &cal_api, &www[..]),
        ("gmail", &mail_api, &gmail_apis[..]),
    ] {
        google_oauth::configure(&http, &s.base, &root, provider, (&accounts, api), apis).await;
        let to = google_oauth::connect(&http, &s.base, &key, provider, &accounts, json!({})).await;
        assert!(to.contains("status=connected"), "{provider}: {to}");
    }

    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    let outcomes = run_due(&engine).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Outcome::Completed)
            .count(),
        3,
        "{outcomes:?}"
    );
    let found = search(&s.base, &key, "Hartley Weir").await;
    let top: BTreeSet<(String, String)> = found["results"].as_array().unwrap()[..3]
        .iter()
        .map(|r: &Value| {
            (
                r["provider"].as_str().unwrap().to_string(),
                r["external_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect: BTreeSet<(String, String)> = [
        ("gcalendar", "hartley01@primary".to_string()),
        ("gdrive", "hartley-plan".to_string()),
        ("gmail", gmail::id(800)),
    ]
    .into_iter()
    .map(|(p, id)| (p.to_string(), id))
    .collect();
    assert_eq!(top, expect, "{found}");
}
