//! GitHub Enterprise Server as an organization meets it, through the whole host: an admin
//! points the provider at the server (`https://api.github.com` → `<server>/api/v3`,
//! `https://github.com` → `<server>`) and sets the OAuth app; a user connects; hooks are
//! made on the repositories the user administers, each with the subscription's secret;
//! the walk syncs, a search finds an issue by words from a comment, the PNG is recorded
//! as skipped with its reason; a signed `issue_comment` delivery updates that one
//! issue, a forged one is refused and a replayed delivery id is a duplicate.

use serde_json::{Value, json};
use tributary::db::{Owner, status};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};
use tributary_sdk::signature::hmac_sha256;

use crate::common::*;
use crate::github::{FERRY, fixture};
use crate::github_fake::{self, CLIENT_ID, CLIENT_SECRET};
use crate::google_oauth;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_user_connects_github_enterprise_and_hooks_update_issues() {
    let github = std::sync::Arc::new(std::sync::Mutex::new(fixture()));
    let fake = format!(
        "http://{}",
        serve(github_fake::router(github.clone())).await
    );
    let s = serve_host(None, &["github"], true).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let http = google_oauth::client();
    let settings = json!({"base_urls": {"https://api.github.com": format!("{fake}/api/v3"), "https://github.com": fake},
        "rate_limits": {"requests_per_minute": 60000, "concurrency": 4}});
    google_oauth::admin_setup(
        &http,
        &s.base,
        &root,
        "github",
        settings,
        (CLIENT_ID, CLIENT_SECRET),
    )
    .await;

    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let body = json!({"config": {"repos": "rivers/levees, Rivers/Gauges, rivers/ghost"}});
    let authorize = (
        "https://github.com",
        fake.as_str(),
        "/login/oauth/authorize?",
    );
    let to = google_oauth::consent(&http, &s.base, &key, "github", body, authorize).await;
    assert!(to.contains("status=connected"), "{to}");
    assert_eq!(
        github.lock().unwrap().asked,
        vec!["repo read:org".to_string()]
    );
    let row = db
        .integration(&Owner::User(ada.id.clone()), "github")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.account_id.as_deref()),
        (status::ACTIVE, Some("7"))
    );

    // One hook per repository the user administers, to this integration's callback.
    let (callback, secret) = {
        let g = github.lock().unwrap();
        let hooks: Vec<&Value> = g.repos.values().flat_map(|r| r.hooks.iter()).collect();
        assert_eq!(hooks.len(), 2, "levees and gauges; ghost is gone");
        assert!(hooks.iter().all(|h| {
            h["events"]
                .as_array()
                .unwrap()
                .contains(&json!("issue_comment"))
        }));
        let c = &hooks[0]["config"];
        assert_eq!(hooks[1]["config"]["secret"], c["secret"]);
        (
            c["url"].as_str().unwrap().to_string(),
            c["secret"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        callback,
        format!("{}/api/webhooks/integrations/github/{}", s.base, row.id)
    );
    assert!(secret.len() >= 32, "a random per-subscription secret");

    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(held(&db, &row.id).await.len(), 501);
    let found = search(&s.base, &key, "ferry forty pallets across the estuary").await;
    assert_eq!(found["results"][0]["external_id"], FERRY, "{found}");
    let found = search(&s.base, &key, "close the tide gates four metres").await;
    assert_eq!(
        found["results"][0]["external_id"], "rivers/levees/blob/docs/ops/runbook.md",
        "{found}"
    );
    assert_eq!(
        db.skip_reason(&row.id, "rivers/levees/blob/docs/img/map.png")
            .await
            .unwrap()
            .as_deref(),
        Some("unsupported mime type image/png")
    );

    // A new comment on issue 9, pushed by the hook.
    github.lock().unwrap().repo("rivers/levees").comment(
        9,
        "katherine",
        "A hydrofoil barge could double the sandbag run",
        6000,
    );
    let delivery = json!({"action": "created",
        "issue": {"number": 9, "title": "Seepage report 9", "state": "open", "comments": 1},
        "comment": {"id": 1, "body": "A hydrofoil barge could double the sandbag run", "user": {"login": "katherine"}},
        "repository": {"id": 1296269, "full_name": "Rivers/Levees", "default_branch": "main"},
        "sender": {"login": "katherine"}})
    .to_string();
    let post = |sig: String, id: &str| {
        http.post(&callback)
            .header("content-type", "application/json")
            .header("X-GitHub-Event", "issue_comment")
            .header("X-GitHub-Delivery", id)
            .header("X-Hub-Signature-256", sig)
            .header("User-Agent", "GitHub-Hookshot/044aadd")
            .body(delivery.clone())
            .send()
    };
    let sign = |key: &str| {
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(key.as_bytes(), delivery.as_bytes()))
        )
    };
    let forged = post(sign("not-the-secret"), "d1").await.unwrap();
    assert_eq!(forged.status(), 401);
    let ok = post(sign(&secret), "0b2c9f60-cc78-11e3-81ab-4c9367dc0958")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let again = post(sign(&secret), "0b2c9f60-cc78-11e3-81ab-4c9367dc0958")
        .await
        .unwrap();
    assert_eq!(
        again.json::<Value>().await.unwrap()["duplicate"],
        true,
        "a redelivery keeps its id"
    );
    let fanout = tributary::webhooks::Fanout::new(db.clone(), &s.state.webhooks);
    assert_eq!(fanout.drain().await.unwrap().done, 1);
    run_due(&engine).await;
    let found = search(&s.base, &key, "hydrofoil barge").await;
    assert_eq!(
        found["results"][0]["external_id"], "rivers/levees/issues/9",
        "{found}"
    );

    // Disconnecting removes the hooks at GitHub.
    let gone = http
        .delete(format!("{}/api/integrations/github", s.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let g = github.lock().unwrap();
    assert!(
        g.repos.values().all(|r| r.hooks.is_empty()),
        "hooks deleted"
    );
    assert!(
        g.calls
            .iter()
            .any(|c| c.starts_with("DELETE /repos/rivers/levees/hooks/"))
    );
}
