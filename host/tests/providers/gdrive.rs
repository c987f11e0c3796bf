//! The Google Drive plugin (the real `.wasm`) against the fake Drive: full walks with
//! paging, folder trees, shared drives, trash, Google formats and blobs; the changes feed;
//! an expired page token; rate limits and a dead token; push channels.

use std::sync::{Arc, Mutex};

use tributary::credentials::{Credential, Kind};
use tributary::model::{Body, ListMode, ListRequest, Page, PluginError, WebhookRequest};
use tributary::runtime::{CallError, Integration, Limits, Session};

use crate::common::*;
use crate::drive_fake::{self, DOC, Drive, FOLDER, FakeFile, SHEET, Shared};

pub const TOKEN: &str = "ya29.a0-test-access";

fn f(id: &str, name: &str, mime: &str, parent: &str, body: &str) -> FakeFile {
    FakeFile {
        id: id.into(),
        name: name.into(),
        mime: mime.into(),
        parents: vec![parent.into()],
        drive_id: None,
        trashed: false,
        version: 1,
        modified: "2024-05-01T10:00:00.000Z".into(),
        body: body.as_bytes().to_vec(),
        size: None,
    }
}

/// 560 files the user can read: 8 folders two levels deep under My Drive, Docs, Sheets,
/// text and HTML blobs, a form (no text export), 3 trashed, and 20 in a shared drive.
pub fn fixture() -> Drive {
    let mut d = Drive {
        access_token: TOKEN.into(),
        ..Default::default()
    };
    for top in 0..4 {
        d.put(f(
            &format!("fold-{top}"),
            &format!("Team {top}"),
            FOLDER,
            "root",
            "",
        ));
        d.put(f(
            &format!("fold-{top}-a"),
            "Archive",
            FOLDER,
            &format!("fold-{top}"),
            "",
        ));
    }
    for i in 0..536 {
        let parent = match i % 3 {
            0 => "root".to_string(),
            1 => format!("fold-{}", i % 4),
            _ => format!("fold-{}-a", i % 4),
        };
        let (mime, body) = match i % 4 {
            0 => (DOC, format!("Design note {i}: the river delta plan")),
            1 => (SHEET, format!("region,value\nnorth,{i}\n")),
            2 => ("text/plain", format!("plain notes number {i}")),
            _ => (
                "text/html",
                format!("<html><body><p>Minutes of meeting {i}</p></body></html>"),
            ),
        };
        d.put(f(
            &format!("file-{i:03}"),
            &format!("Item {i}"),
            mime,
            &parent,
            &body,
        ));
    }
    d.put(f(
        "form-1",
        "Survey",
        "application/vnd.google-apps.form",
        "root",
        "",
    ));
    for i in 0..3 {
        let mut t = f(&format!("trash-{i}"), "Old", "text/plain", "root", "gone");
        t.trashed = true;
        d.put(t);
    }
    for i in 0..20 {
        let mut s = f(
            &format!("shared-{i}"),
            &format!("Shared {i}"),
            "text/plain",
            "drive-1",
            "team",
        );
        s.drive_id = Some("drive-1".into());
        d.put(s);
    }
    d
}

pub struct Fake {
    pub drive: Shared,
    pub t: TestHost,
}

pub async fn setup(drive: Drive) -> Fake {
    let drive = Arc::new(Mutex::new(drive));
    let addr = serve(drive_fake::router(drive.clone())).await;
    let t = host(None, &["gdrive"], Limits::default(), true).await;
    t.runtime
        .services()
        .set_settings("gdrive", base_override("https://www.googleapis.com", addr))
        .await
        .unwrap();
    for id in ["gd-1", "gd-2"] {
        t.credentials.set(
            id,
            Credential {
                kind: Kind::Oauth2,
                secret: TOKEN.into(),
                username: None,
                scopes: vec!["https://www.googleapis.com/auth/drive.readonly".into()],
                expires_at: None,
            },
        );
    }
    Fake { drive, t }
}

impl Fake {
    pub async fn session(&self, config: &[(&str, &str)]) -> Session {
        let pairs = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.t
            .runtime
            .session("gdrive", Some(Integration::new("gd-1", pairs)))
            .await
            .unwrap()
    }
}

/// Every page of a walk; the pages in order.
pub async fn walk(s: &mut Session, mode: ListMode, token: Option<String>) -> Vec<Page> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let req = ListRequest {
            mode,
            cursor: cursor.clone(),
            sync_token: token.clone(),
            modified_after: None,
            page_size: 100,
        };
        let page = s.list(&req).await.unwrap();
        cursor = page.next_cursor.clone();
        pages.push(page);
        if cursor.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "the walk ends");
    }
}

fn ids(pages: &[Page]) -> Vec<String> {
    let mut ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.resources.iter().map(|r| r.id.clone()))
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_full_walk_lists_every_readable_file() {
    let fake = setup(fixture()).await;
    let mut s = fake.session(&[]).await;
    let account = s.check().await.unwrap();
    assert_eq!(
        (account.id.as_str(), account.name.as_str()),
        ("perm-ada", "Ada Lovelace")
    );

    let start = fake.drive.lock().unwrap().changes.len().to_string();
    let pages = walk(&mut s, ListMode::Full, None).await;
    assert!(pages.len() >= 6, "paged by 100: {}", pages.len());
    let got = ids(&pages);
    // 536 files and the form; no folders, nothing trashed, no shared drive.
    assert_eq!(got.len(), 537);
    assert!(
        got.iter()
            .all(|id| id.starts_with("file-") || id == "form-1")
    );
    assert_eq!(
        pages.last().unwrap().sync_token.as_deref(),
        Some(start.as_str())
    );

    let all: Vec<_> = pages.iter().flat_map(|p| p.resources.iter()).collect();
    let by_id = |id: &str| *all.iter().find(|r| r.id == id).unwrap();
    assert!(
        all.iter()
            .all(|r| r.content.is_none() && r.version.is_some()),
        "listed for the host to fetch when changed, never downloaded on every walk"
    );
    assert_eq!(by_id("file-002").parent_id.as_deref(), Some("fold-2-a"));
    let before = fake.drive.lock().unwrap().requests.len();

    // Fetched, a Doc is its text export and a Sheet its CSV, downloaded by the host.
    let body = async |s: &mut Session, id: &str| match s.fetch(id).await.unwrap().body {
        Body::Bytes(b) => String::from_utf8(b).unwrap(),
        Body::Text(t) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        body(&mut s, "file-000").await,
        "Design note 0: the river delta plan"
    );
    assert_eq!(body(&mut s, "file-001").await, "region,value\nnorth,1\n");
    let html = body(&mut s, "file-003").await;
    assert!(html.contains("Minutes of meeting 3"), "{html}");
    assert_eq!(body(&mut s, "form-1").await, "", "no text export for forms");
    let requests = fake.drive.lock().unwrap().requests[before..].to_vec();
    assert!(
        requests.contains(&"files.export file-000".to_string()),
        "{requests:?}"
    );
    assert!(
        requests.contains(&"files.get file-003 Some(\"media\")".to_string()),
        "{requests:?}"
    );
    // Fetched right after its page was listed, a file needs no metadata request.
    let page = s.list(&full(100)).await.unwrap();
    assert!(page.resources.iter().any(|r| r.id == "file-004"));
    let before = fake.drive.lock().unwrap().requests.len();
    assert_eq!(
        body(&mut s, "file-004").await,
        "Design note 4: the river delta plan"
    );
    let requests = fake.drive.lock().unwrap().requests[before..].to_vec();
    assert_eq!(requests, vec!["files.export file-004".to_string()]);
    let fetched = s.fetch("file-003").await.unwrap();
    assert_eq!(fetched.mime_type, "text/html");
    assert_eq!(
        fetched.url.as_deref(),
        Some("https://drive.google.com/file/d/file-003/view")
    );
    let err = s.fetch("trash-0").await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::NotFound(_))),
        "{err:?}"
    );

    // Shared drives only when the integration asks for them.
    let mut s = fake.session(&[("shared_drives", "true")]).await;
    let got = ids(&walk(&mut s, ListMode::Full, None).await);
    assert_eq!(got.len(), 557);
    let shared: Vec<_> = got.iter().filter(|id| id.starts_with("shared-")).collect();
    assert_eq!(shared.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_folder_filter_walks_its_tree_and_follows_changes() {
    let fake = setup(fixture()).await;
    let mut s = fake.session(&[("folder_id", "fold-1")]).await;
    let pages = walk(&mut s, ListMode::Full, None).await;
    let got = ids(&pages);
    let expected: Vec<String> = (0..536)
        .filter(|i| i % 4 == 1 && i % 3 != 0)
        .map(|i| format!("file-{i:03}"))
        .collect();
    assert_eq!(got, expected, "fold-1 and fold-1-a, nothing else");
    let token = pages.last().unwrap().sync_token.clone();

    {
        let mut d = fake.drive.lock().unwrap();
        d.put(f("fold-1-b", "New", FOLDER, "fold-1", ""));
        d.put(f("in-new", "Inside new", "text/plain", "fold-1-b", "x"));
        d.put(f("elsewhere", "Elsewhere", "text/plain", "fold-2", "y"));
        let mut moved = d.files["file-001"].clone();
        moved.parents = vec!["fold-3".into()];
        d.put(moved);
    }
    let pages = walk(&mut s, ListMode::Incremental, token).await;
    assert_eq!(ids(&pages), vec!["in-new".to_string()]);
    let deleted: Vec<_> = pages.iter().flat_map(|p| p.deleted.clone()).collect();
    assert!(
        deleted.contains(&"file-001".to_string()),
        "moved out of the tree: {deleted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_an_incremental_walk_reads_the_changes_feed() {
    let fake = setup(fixture()).await;
    let mut s = fake.session(&[]).await;
    let token = walk(&mut s, ListMode::Full, None)
        .await
        .last()
        .unwrap()
        .sync_token
        .clone();
    {
        let mut d = fake.drive.lock().unwrap();
        let mut edited = d.files["file-010"].clone();
        edited.body = b"edited".to_vec();
        edited.name = "Renamed".into();
        d.put(edited);
        let mut trashed = d.files["file-011"].clone();
        trashed.trashed = true;
        d.put(trashed);
        d.remove("file-012");
        d.put(f("file-new", "Fresh", "text/plain", "root", "hello"));
    }
    let pages = walk(&mut s, ListMode::Incremental, token).await;
    assert_eq!(
        ids(&pages),
        vec!["file-010".to_string(), "file-new".to_string()]
    );
    let mut deleted: Vec<_> = pages.iter().flat_map(|p| p.deleted.clone()).collect();
    deleted.sort();
    assert_eq!(
        deleted,
        vec!["file-011".to_string(), "file-012".to_string()]
    );
    let edited = pages
        .iter()
        .flat_map(|p| &p.resources)
        .find(|r| r.id == "file-010")
        .unwrap();
    assert_eq!(edited.title, "Renamed");
    let next = pages.last().unwrap().sync_token.clone().unwrap();
    assert_eq!(next, fake.drive.lock().unwrap().changes.len().to_string());

    // Nothing new: one page, nothing in it, the same token.
    let pages = walk(&mut s, ListMode::Incremental, Some(next.clone())).await;
    assert_eq!((pages.len(), ids(&pages).len()), (1, 0));
    assert_eq!(pages[0].sync_token.as_deref(), Some(next.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_the_page_token_expired_or_google_refuses() {
    let fake = setup(fixture()).await;
    let mut s = fake.session(&[]).await;
    fake.drive.lock().unwrap().oldest_token = 10_000;
    let req = ListRequest {
        mode: ListMode::Incremental,
        cursor: None,
        sync_token: Some("5".into()),
        modified_after: None,
        page_size: 100,
    };
    let err = s.list(&req).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::NotFound(m)) if m.contains("full walk")),
        "{err:?}"
    );

    // A 200 that is not Drive's JSON (a proxy's page) is a typed error, not a trap.
    fake.drive.lock().unwrap().garbage_next = true;
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::InvalidInput(m)) if m.contains("malformed JSON")),
        "{err:?}"
    );

    // 403 userRateLimitExceeded is a rate limit, not a refusal.
    fake.drive.lock().unwrap().rate_limit_next = 1;
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(_))),
        "{err:?}"
    );
    assert!(
        s.list(&full(100)).await.is_ok(),
        "the next call goes through"
    );

    // A token Google no longer takes.
    fake.drive.lock().unwrap().access_token = "ya29.rotated".into();
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::Unauthorized(_))),
        "{err:?}"
    );
}

fn notification(channel: &str, token: &str, number: &str, state: &str) -> WebhookRequest {
    let h = |k: &str, v: &str| (k.to_string(), v.to_string());
    WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: vec![
            h("X-Goog-Channel-ID", channel),
            h("X-Goog-Channel-Token", token),
            h("X-Goog-Message-Number", number),
            h("X-Goog-Resource-ID", "res-changes-1"),
            h("X-Goog-Resource-State", state),
            h(
                "X-Goog-Resource-URI",
                "https://www.googleapis.com/drive/v3/changes",
            ),
        ],
        body: br#"{"kind":"drive#changes"}"#.to_vec(),
        subscription_secret: Some("per-sub-secret".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_push_channel_subscribes_notifies_and_stops() {
    let fake = setup(fixture()).await;
    let mut s = fake.session(&[]).await;
    let sub = s
        .subscribe(
            "https://tributary.example/api/webhooks/integrations/gdrive/gd-1",
            "per-sub-secret",
        )
        .await
        .unwrap();
    let recorded = fake.drive.lock().unwrap().channels[0].clone();
    let req = &recorded["request"];
    assert_eq!(req["type"], "web_hook");
    assert_eq!(
        req["address"],
        "https://tributary.example/api/webhooks/integrations/gdrive/gd-1"
    );
    assert_eq!(req["token"], "per-sub-secret");
    assert!(req["id"].as_str().unwrap().len() <= 64);
    assert_eq!(sub.id, req["id"].as_str().unwrap());
    assert_eq!(sub.resource.as_deref(), Some("res-changes-1"));
    let asked: i64 = req["expiration"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        sub.expires_at,
        Some(asked),
        "read back from Google's string"
    );

    let first = s
        .webhook(&notification(&sub.id, "per-sub-secret", "1", "sync"))
        .await
        .unwrap();
    assert!(
        first.verified && !first.sync_requested,
        "the sync message only opens the channel"
    );
    let change = s
        .webhook(&notification(&sub.id, "per-sub-secret", "2", "change"))
        .await
        .unwrap();
    assert!(change.verified && change.sync_requested);
    assert_eq!(change.delivery_id, Some(format!("{}:2", sub.id)));
    let forged = s
        .webhook(&notification(&sub.id, "per-sub-secreT", "3", "change"))
        .await
        .unwrap();
    assert!(!forged.verified);

    s.unsubscribe(&sub).await.unwrap();
    let stopped = fake.drive.lock().unwrap().stopped[0].clone();
    assert_eq!(stopped["id"], sub.id.as_str());
    assert_eq!(stopped["resourceId"], "res-changes-1");
}
