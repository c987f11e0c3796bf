//! Google Drive through the whole host: the sync engine walks the real `.wasm` against the
//! fake Drive, the host downloads exports and blobs, the index answers searches, the
//! changes feed keeps it current, and an expired page token ends in a full walk that
//! converges.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Map;
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use crate::common::*;
use crate::drive_fake;
use crate::gdrive::{TOKEN, fixture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_drive_syncs_into_search_and_converges_after_an_expired_token() {
    let drive = Arc::new(Mutex::new(fixture()));
    let addr = serve(drive_fake::router(drive.clone())).await;
    let s = serve_host(None, &["gdrive"], true).await;
    let services = s.state.runtime.services();
    let settings = base_override("https://www.googleapis.com", addr);
    services.set_settings("gdrive", settings).await.unwrap();
    let db = s.state.db();
    let (user, key) = user_with_key(db, "ada@t.test", false).await;
    let row = oauth_integration(&s, &user, "gdrive", &Map::new(), TOKEN).await;
    // Google sends no Retry-After: the host's default wait applies (short here).
    let config = EngineConfig {
        default_rate_limit_wait: Duration::from_millis(50),
        rate_limit_wait_bounds: (Duration::from_millis(10), Duration::from_secs(1)),
        ..EngineConfig::default()
    };
    let engine = SyncEngine::new(s.state.runtime.clone(), s.state.ingest.clone(), config);
    let sync = async |mode: &str| {
        let (job, outcome) = sync_once(&engine, db, &row, mode).await;
        assert_eq!(outcome, Outcome::Completed, "{job:?}");
        assert_eq!(job.resources_failed, 0, "{job:?}");
        job
    };

    // Drive answers the first call with 403 userRateLimitExceeded: the walk waits and
    // comes back, the integration shows it meanwhile.
    drive.lock().unwrap().rate_limit_next = 1;
    let (job, outcome) = sync_once(&engine, db, &row, "full").await;
    assert_eq!(outcome, Outcome::Delayed, "{job:?}");
    let why = job.error_message.clone().unwrap_or_default();
    assert!(why.contains("userRateLimitExceeded"), "{why}");
    let shown = db.integration_by_id(&row.id).await.unwrap().unwrap();
    assert_eq!(shown.status, tributary::db::status::RATE_LIMITED);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Asking again finds the same walk queued, due now.
    let (again, outcome) = sync_once(&engine, db, &row, "full").await;
    assert_eq!(
        (again.id.as_str(), outcome),
        (job.id.as_str(), Outcome::Completed)
    );
    let shown = db.integration_by_id(&row.id).await.unwrap().unwrap();
    assert_eq!(shown.status, tributary::db::status::ACTIVE);
    let held_now = held(db, &row.id).await;
    assert_eq!(
        held_now.len(),
        537,
        "every readable file, nothing trashed or shared"
    );
    let found = search(&s.base, &key, "river delta plan").await;
    let first = found["results"][0]["external_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.starts_with("file-"),
        "a Doc's export was indexed: {found}"
    );
    let found = search(&s.base, &key, "minutes of meeting 7").await;
    assert!(
        !found["results"].as_array().unwrap().is_empty(),
        "an HTML blob was extracted: {found}"
    );

    // Changes since: an edit, a new file, a deletion.
    {
        let mut d = drive.lock().unwrap();
        let mut edited = d.files["file-007"].clone();
        edited.body = b"<html><body><p>Quarterly watershed survey</p></body></html>".to_vec();
        d.put(edited);
        d.put(drive_fake_file("file-new", "the estuary brief"));
        d.remove("file-008");
    }
    sync("incremental").await;
    let held_now = held(db, &row.id).await;
    assert!(held_now.contains(&"file-new".to_string()));
    assert!(!held_now.contains(&"file-008".to_string()));
    let found = search(&s.base, &key, "watershed survey").await;
    assert_eq!(found["results"][0]["external_id"], "file-007", "{found}");

    // The page token expired while a file was deleted: the walk goes full and the
    // deletion still reaches the index.
    {
        let mut d = drive.lock().unwrap();
        d.remove("file-009");
        d.oldest_token = d.changes.len() + 1;
    }
    let job = sync("incremental").await;
    assert_eq!(job.mode, "full", "{job:?}");
    let held_now = held(db, &row.id).await;
    assert!(!held_now.contains(&"file-009".to_string()));
    assert_eq!(
        held_now.len(),
        536,
        "537, less file-008 and file-009, with file-new"
    );
    // The next incremental walk starts from the fresh token.
    drive.lock().unwrap().oldest_token = 0;
    let job = sync("incremental").await;
    assert_eq!(job.mode, "incremental");
}

fn drive_fake_file(id: &str, text: &str) -> drive_fake::FakeFile {
    drive_fake::FakeFile {
        id: id.into(),
        name: id.into(),
        mime: "text/plain".into(),
        parents: vec!["root".into()],
        drive_id: None,
        trashed: false,
        version: 1,
        modified: "2024-06-01T10:00:00.000Z".into(),
        body: text.as_bytes().to_vec(),
        size: None,
    }
}
