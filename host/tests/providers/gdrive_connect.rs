//! Google Drive as a user meets it: an admin sets the OAuth client, a user connects (PKCE,
//! offline access, consent, Google's token answers), the host opens a push channel to its
//! callback URL, a notification brings one file's change into the index, an expired
//! access token is refreshed (Google returns no new refresh token), and disconnecting stops
//! the channel.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tributary::db::{Owner, status};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use crate::common::*;
use crate::drive_fake;
use crate::gdrive::fixture;
use crate::google_oauth;

const SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";

/// Drive and Google's OAuth on one loopback address: each token issued reaches the fake.
async fn google(d: drive_fake::Drive) -> (drive_fake::Shared, google_oauth::Shared, String) {
    let drive: drive_fake::Shared = Arc::new(Mutex::new(d));
    drive.lock().unwrap().access_token = "not-issued-yet".into();
    let to_drive = drive.clone();
    let oauth = google_oauth::new(Box::new(move |access, scopes| {
        let mut d = to_drive.lock().unwrap();
        d.access_token = access.into();
        d.scopes = scopes.to_vec();
    }));
    let router = drive_fake::router(drive.clone()).merge(google_oauth::router(oauth.clone()));
    let fake = format!("http://{}", serve(router).await);
    (drive, oauth, fake)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_user_connects_drive_gets_pushed_changes_and_a_refreshed_token() {
    let (drive, oauth, fake) = google(fixture()).await;

    let s = serve_host(None, &["gdrive"], true).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let http = google_oauth::client();
    let apis = ["https://www.googleapis.com"];
    google_oauth::configure(&http, &s.base, &root, "gdrive", (&fake, &fake), &apis).await;
    let to = google_oauth::connect(&http, &s.base, &key, "gdrive", &fake, json!({})).await;
    assert!(to.contains("status=connected"), "{to}");
    assert_eq!(oauth.lock().unwrap().asked, vec![SCOPE.to_string()]);
    let row = db
        .integration(&Owner::User(ada.id.clone()), "gdrive")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.account_name.as_deref()),
        (status::ACTIVE, Some("Ada Lovelace"))
    );

    // The host opened a channel to its own callback URL for this integration.
    let watch = drive.lock().unwrap().channels[0].clone();
    let address = watch["request"]["address"].as_str().unwrap().to_string();
    assert_eq!(
        address,
        format!("{}/api/webhooks/integrations/gdrive/{}", s.base, row.id)
    );
    let channel_token = watch["request"]["token"].as_str().unwrap().to_string();
    let channel_id = watch["request"]["id"].as_str().unwrap().to_string();

    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    let (job, _) = db
        .request_sync(&row.id, "gdrive", "full", "manual")
        .await
        .unwrap();
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(
        db.sync_job(&job.id).await.unwrap().unwrap().status,
        "COMPLETED"
    );
    assert_eq!(held(&db, &row.id).await.len(), 537);

    // A push: one file changed at Google, the notification arrives, the index follows.
    {
        let mut d = drive.lock().unwrap();
        let mut f = d.files["file-006"].clone();
        f.body = b"Sediment budget for the lower estuary".to_vec();
        d.put(f);
    }
    let notify = |token: &str, number: &str| {
        http.post(&address)
            .header("X-Goog-Channel-ID", &channel_id)
            .header("X-Goog-Channel-Token", token)
            .header("X-Goog-Message-Number", number)
            .header("X-Goog-Resource-ID", "res-changes-1")
            .header("X-Goog-Resource-State", "change")
            .header(
                "X-Goog-Resource-URI",
                "https://www.googleapis.com/drive/v3/changes",
            )
            .body(r#"{"kind":"drive#changes"}"#)
            .send()
    };
    assert_eq!(
        notify("a-guess", "2").await.unwrap().status(),
        401,
        "a forged notification"
    );
    assert_eq!(notify(&channel_token, "2").await.unwrap().status(), 200);
    let again = notify(&channel_token, "2").await.unwrap();
    assert_eq!(
        again.json::<Value>().await.unwrap()["duplicate"],
        true,
        "Google's retry"
    );
    let fanout = tributary::webhooks::Fanout::new(db.clone(), &s.state.webhooks);
    assert_eq!(fanout.drain().await.unwrap().done, 1);
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    let found = search(&s.base, &key, "sediment budget estuary").await;
    assert_eq!(found["results"][0]["external_id"], "file-006", "{found}");

    // Google expired the access token: the host refreshes it (no new refresh token comes
    // back; the stored one stays) and the walk goes on.
    drive.lock().unwrap().access_token = "ya29.revoked-by-google".into();
    {
        let mut d = drive.lock().unwrap();
        let mut f = d.files["file-009"].clone();
        f.body = b"Tidal gauge calibration notes".to_vec();
        d.put(f);
    }
    db.request_sync(&row.id, "gdrive", "incremental", "manual")
        .await
        .unwrap();
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(oauth.lock().unwrap().refresh_grants, 1);
    let found = search(&s.base, &key, "tidal gauge calibration").await;
    assert_eq!(found["results"][0]["external_id"], "file-009", "{found}");
    // Still the refresh token of the code exchange: a second refresh works too.
    drive.lock().unwrap().access_token = "ya29.revoked-again".into();
    db.request_sync(&row.id, "gdrive", "incremental", "manual")
        .await
        .unwrap();
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(oauth.lock().unwrap().refresh_grants, 2);

    // Disconnect stops the channel at Google.
    let resp = http
        .delete(format!("{}/api/integrations/gdrive", s.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let stopped = drive.lock().unwrap().stopped.clone();
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0]["id"], channel_id.as_str());
}

/// A 5 GB video Drive reports but the test never holds.
fn huge() -> drive_fake::FakeFile {
    drive_fake::FakeFile {
        id: "huge-1".into(),
        name: "Estuary survey raw footage.mp4".into(),
        mime: "video/mp4".into(),
        parents: vec!["root".into()],
        drive_id: None,
        trashed: false,
        version: 3,
        modified: "2024-07-01T10:00:00.000Z".into(),
        body: Vec::new(),
        size: Some(5 << 30),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_metadata_only_asks_for_the_metadata_scope_and_reads_no_contents() {
    let mut d = fixture();
    d.put(huge());
    let (drive, oauth, fake) = google(d).await;
    let s = serve_host(None, &["gdrive"], true).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let http = google_oauth::client();
    let apis = ["https://www.googleapis.com"];
    google_oauth::configure(&http, &s.base, &root, "gdrive", (&fake, &fake), &apis).await;
    let body = json!({"storage_strategy": "METADATA_ONLY"});
    let to = google_oauth::connect(&http, &s.base, &key, "gdrive", &fake, body).await;
    assert!(to.contains("status=connected"), "{to}");
    assert_eq!(
        oauth.lock().unwrap().asked,
        vec!["https://www.googleapis.com/auth/drive.metadata.readonly".to_string()],
        "drive.readonly is not asked for"
    );
    let row = db
        .integration(&Owner::User(ada.id.clone()), "gdrive")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.storage_strategy, "METADATA_ONLY");

    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    assert_eq!(run_due(&engine).await, vec![Outcome::Completed]);
    let jobs = db.sync_jobs_where(Some(&row.id), None, 10).await.unwrap();
    assert_eq!(jobs[0].resources_failed, 0, "{jobs:?}");
    assert_eq!(
        held(&db, &row.id).await.len(),
        538,
        "every file, the huge one too"
    );
    let reads: Vec<String> = drive
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.starts_with("files.export") || r.contains("Some(\"media\")"))
        .cloned()
        .collect();
    assert!(reads.is_empty(), "no contents read: {reads:?}");
    let found = search(&s.base, &key, "estuary survey raw footage").await;
    assert_eq!(found["results"][0]["external_id"], "huge-1", "{found}");
    assert_eq!(
        found["results"][0]["snippet"], "",
        "metadata only keeps no text: {found}"
    );
}
