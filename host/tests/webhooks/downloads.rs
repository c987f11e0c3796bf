//! Host downloads (WIT 0.2.0 `body.download`): the plugin names a file, the host fetches
//! it through the plugin's allow-list with its own size cap and hands the bytes to
//! extraction; a file over the cap (reported or not) and a file on a host the plugin may
//! not reach fail alone, and the walk goes on, whether the file comes from `fetch` or
//! inline in the listing.

use serde_json::Value;
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use super::common::*;
use super::*;

/// The download cap the host runs with here.
const CAP: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_host_downloads_a_fetched_file_and_caps_its_size() {
    downloads(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_host_downloads_a_listed_file_and_caps_its_size() {
    downloads(true).await;
}

async fn downloads(inline: bool) {
    let (s, api) = paged_host(&["paged"], |c| c.max_download_bytes = CAP).await;
    {
        let mut a = api.lock().unwrap();
        a.inline_files = inline;
        for id in ["report", "huge", "unreported", "elsewhere", "note"] {
            a.put(id, "plain text of the note", 7);
        }
        let html = b"<html><body><h1>Quarterly</h1><p>Revenue grew in the northern region.</p></body></html>";
        a.files
            .insert("report".into(), ("text/html".into(), html.to_vec(), None));
        // Reported too large: refused before any byte moves.
        a.files.insert(
            "huge".into(),
            ("application/pdf".into(), vec![0; 16], Some(200 << 20)),
        );
        // Not reported, larger than the cap: the read stops at the cap.
        a.files.insert(
            "unreported".into(),
            ("text/plain".into(), vec![b'a'; CAP + 1], None),
        );
        a.files
            .insert("elsewhere".into(), ("elsewhere".into(), vec![1], None));
    }
    let db = s.state.db();
    let (user, key) = user_with_key(db, "files@t.test", false).await;
    let row = owned_integration(db, &user, "paged").await;
    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    let (job, _) = db
        .request_sync(&row.id, "paged", "full", "manual")
        .await
        .unwrap();
    let (_, outcome) = engine.run_once().await.unwrap().unwrap();
    let job = db.sync_job(&job.id).await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Completed, "{job:?}");
    assert_eq!(
        (job.resources_found, job.resources_failed),
        (5, 3),
        "{job:?}"
    );
    let failures: Value = serde_json::from_str(&job.error_details.unwrap()).unwrap();
    let why = |id: &str| {
        failures
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .map(|f| f["error"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no failure for {id}: {failures}"))
    };
    assert!(why("huge").contains("download limit"), "{failures}");
    assert!(why("unreported").contains("limit"), "{failures}");
    assert!(
        why("elsewhere").contains("files.elsewhere.test"),
        "{failures}"
    );
    {
        let a = api.lock().unwrap();
        assert_eq!(a.downloads.get("report"), Some(&1));
        assert_eq!(a.downloads.get("huge"), None, "refused before downloading");
        // Listed inline, the report needs no fetch; a listed file whose download fails
        // is fetched on its own, so its failure is that resource's, not the page's.
        assert_eq!(a.fetches.contains_key("report"), !inline);
        assert_eq!(a.fetches.get("elsewhere"), Some(&1));
    }
    // The downloaded HTML went through extraction into the index.
    assert_eq!(held(db, &row.id).await, ["note", "report"]);
    let found = search(&s.base, &key, "northern region revenue").await;
    assert_eq!(found["results"][0]["external_id"], "report", "{found}");
}
