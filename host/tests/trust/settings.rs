//! Settings and approvals: a config change re-walks everything, connect syncs at once,
//! OAuth endpoints are pinned at approval, an override's egress exemption is its
//! provider's alone, settings saved on one replica reach the others, and a second
//! replica with its own embedded index is refused.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tributary::api::app;
use tributary::model::Auth;
use tributary::runtime::Integration;
use tributary::sync::{EngineConfig, Outcome};

use super::common::*;
use super::{engine, limits, owned, sync_once};

/// Two collections, two items each, listed inline.
async fn collections_api() -> std::net::SocketAddr {
    let list = |Query(q): Query<BTreeMap<String, String>>| async move {
        let c = q.get("collection").cloned().unwrap_or_default();
        let items: Vec<Value> = (1..=2)
            .map(|i| json!({"id": format!("{c}{i}"), "version": "1", "updated": 1, "title": "t", "body": format!("body {c}{i}")}))
            .collect();
        Json(json!({"items": items, "next": null}))
    };
    serve(Router::new().route("/items", get(list))).await
}

/// A host whose `paged` plugin talks to [`collections_api`].
async fn collections_host() -> TestHost {
    let t = host(None, &["paged"], limits(), false).await;
    let api = collections_api().await;
    let settings = base_override("https://api.paged.test", api);
    t.runtime
        .services()
        .set_settings("paged", settings)
        .await
        .unwrap();
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_config_change_walks_everything_again() {
    let t = collections_host().await;
    let services = t.runtime.services();
    let db = &services.db;
    let (user, key) = user_with_key(db, "cfg@t.test", false).await;
    let row = owned(db, &user, "paged", json!({"collection": "a"})).await;
    let e = engine(&t, EngineConfig::default());
    assert_eq!(sync_once(&e, db, &row).await.0, Outcome::Completed);

    let base = format!("http://{}", serve(app(t.state())).await);
    let resp = reqwest::Client::new()
        .put(format!("{base}/api/integrations/paged/config"))
        .bearer_auth(&key)
        .json(&json!({"config": {"collection": "b"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let jobs = db.sync_jobs_where(Some(&row.id), None, 10).await.unwrap();
    let queued = jobs
        .iter()
        .find(|j| j.status == "PENDING")
        .expect("a sync queued");
    assert_eq!(
        (queued.mode.as_str(), queued.trigger.as_str()),
        ("full", "config")
    );
    assert_eq!(e.run_once().await.unwrap().unwrap().1, Outcome::Completed);
    assert_eq!(
        held(db, &row.id).await,
        ["b1", "b2"],
        "the old collection is out of scope"
    );
    let points = t.ingest.store().resources(&row.id).await.unwrap();
    assert_eq!(points.len(), 2);
    assert!(points.contains("b1") && !points.contains("a1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_connect_queues_the_first_sync_at_once() {
    let t = host(None, &["misbehave"], limits(), false).await;
    let db = &t.runtime.services().db;
    let (_, key) = user_with_key(db, "connect@t.test", false).await;
    let base = format!("http://{}", serve(app(t.state())).await);
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{base}/api/integrations/misbehave/connect"))
        .bearer_auth(&key)
        .json(&json!({"api_key": "k-123"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let details: Value = client
        .get(format!("{base}/api/integrations/misbehave"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = &details["current_job"];
    assert_eq!(job["trigger"], "connect", "{details}");
    assert_eq!(job["mode"], "full");
    assert_eq!(job["status"], "PENDING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_new_version_moves_the_oauth_endpoints() {
    let t = host(None, &["oauthy"], limits(), false).await;
    let services = t.runtime.services();
    let manifest = (*t.runtime.get("oauthy").unwrap().manifest).clone();
    // First use pins what the installed version says.
    tributary::oauth::approved_endpoints(services, &manifest)
        .await
        .unwrap();
    let pinned = services.settings("oauthy").oauth_endpoints.unwrap();
    assert_eq!(pinned.token_url, "https://auth.oauthy.test/token");

    let moved = |url: &str| {
        let mut m = manifest.clone();
        if let Auth::Oauth2(o) = &mut m.auth {
            o.token_url = url.into();
        }
        m
    };
    let err =
        tributary::oauth::approved_endpoints(services, &moved("https://collector.evil.test/token"))
            .await
            .unwrap_err()
            .to_string();
    assert!(err.contains("approve them again"), "{err}");
    let err =
        tributary::oauth::approved_endpoints(services, &moved("http://auth.oauthy.test/token"))
            .await
            .unwrap_err()
            .to_string();
    assert!(err.contains("not an https URL"), "{err}");
    // Editing overrides keeps the approval.
    let base = format!("http://{}", serve(app(t.state())).await);
    let (_, key) = user_with_key(&services.db, "root@t.test", true).await;
    let resp = reqwest::Client::new()
        .put(format!("{base}/api/admin/providers/oauthy/settings"))
        .bearer_auth(&key)
        .json(&json!({"base_urls": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(services.settings("oauthy").oauth_endpoints, Some(pinned));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_reaches_another_providers_private_override() {
    let t = host(None, &["misbehave", "paged"], limits(), false).await;
    let services = t.runtime.services();
    let router = Router::new().route(
        "/items",
        get(|| async { Json(json!({"items": [], "next": null})) }),
    );
    let addr = serve(router).await;
    // The admin points `paged` at an internal name (resolving to loopback).
    let mut settings = tributary::services::ProviderSettings::default();
    settings.base_urls.insert(
        "https://api.paged.test".into(),
        format!("http://localhost:{}", addr.port()),
    );
    services.set_settings("paged", settings).await.unwrap();
    let mut paged = t
        .runtime
        .session("paged", Some(Integration::new("p", vec![])))
        .await
        .unwrap();
    assert!(
        paged.list(&full(10)).await.is_ok(),
        "the overridden provider reaches it"
    );

    let config = vec![
        ("mode".into(), "http".into()),
        ("host".into(), format!("http://localhost:{}/", addr.port())),
        (
            "arg".into(),
            format!("http://localhost:{}/items", addr.port()),
        ),
    ];
    let mut s = t
        .runtime
        .session("misbehave", Some(Integration::new("m", config)))
        .await
        .unwrap();
    let err = s.list(&full(10)).await.unwrap_err().to_string();
    assert!(err.contains("another provider's private base URL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_settings_saved_on_one_replica_reach_another() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let a = host(Some(url.clone()), &["paged"], limits(), false).await;
    let b = host(Some(url), &["paged"], limits(), false).await;
    let settings = base_override("https://api.paged.test", "127.0.0.1:9".parse().unwrap());
    a.runtime
        .services()
        .set_settings("paged", settings.clone())
        .await
        .unwrap();
    eventually(
        "replica b sees the override",
        std::time::Duration::from_secs(10),
        async || {
            drop(b.runtime.session("paged", None).await.unwrap());
            b.runtime.services().settings("paged") == settings
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_second_replica_would_split_the_embedded_index() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let env = [
        ("DATABASE_URL", Some(url.as_str())),
        ("TRIBUTARY_ALLOW_SPLIT_INDEX", None),
    ];
    let mut first = spawn_serve(one.path(), &env);
    eventually(
        "the first replica owns the index",
        std::time::Duration::from_secs(60),
        async || {
            let db = tributary::db::Db::connect(&url).await.unwrap();
            sqlx::query("SELECT 1 FROM embedded_index_owner")
                .fetch_optional(db.pool())
                .await
                .is_ok_and(|r| r.is_some())
        },
    )
    .await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(two.path())
        .env("DATABASE_URL", &url)
        .env_remove("TRIBUTARY_ALLOW_SPLIT_INDEX")
        .output()
        .unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("would split the index"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_config_changes_while_a_walk_runs() {
    let t = collections_host().await;
    let services = t.runtime.services();
    let db = &services.db;
    let user = db.create_user("race@t.test", false).await.unwrap();
    let row = owned(db, &user, "paged", json!({"collection": "a"})).await;
    // A walk of collection `a` is under way when the settings move to `b`.
    db.request_sync(&row.id, "paged", "full", "manual")
        .await
        .unwrap();
    let job = db.claim_job("w", 60_000).await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let config = json!({"collection": "b"}).as_object().cloned().unwrap();
    assert!(
        db.update_integration_settings(&row.id, &config, "FULL_CONTENT", "MANUAL")
            .await
            .unwrap()
    );
    let started = job.started_at.unwrap();
    assert!(
        !db.finish_sync(&row.id, Some("tok-a"), started)
            .await
            .unwrap()
    );
    let after = db.integration_by_id(&row.id).await.unwrap().unwrap();
    assert_eq!(after.last_sync_at, None, "the old scope's walk is no base");
    assert_eq!(db.sync_token(&row.id).await.unwrap(), None);
    // A walk that starts after the change counts.
    let later = tributary::db::now_ms() + 1;
    assert!(db.finish_sync(&row.id, Some("tok-b"), later).await.unwrap());
    assert_eq!(
        db.sync_token(&row.id).await.unwrap().as_deref(),
        Some("tok-b")
    );
}
