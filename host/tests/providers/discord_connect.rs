//! Discord through the whole host: an admin sets the OAuth client and the bot token, a
//! person connects (`identify guilds`), their servers sync and a search finds a thread by
//! words from a reply; a global rate limit delays the walk, a full walk drops a deleted
//! message and rewrites an edited one, an expired token is refreshed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tributary::db::{Owner, status};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use crate::common::*;
use crate::discord::{ADA, CONVOY, G1, GENERAL, GRACE, fixture, mid, who};
use crate::discord_fake::{self, BOT_TOKEN, CLIENT_ID, CLIENT_SECRET};
use crate::google_oauth;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_user_connects_discord_and_searches_a_thread() {
    let dc = Arc::new(Mutex::new(fixture()));
    dc.lock().unwrap().user_token = String::new();
    let fake = format!("http://{}", serve(discord_fake::router(dc.clone())).await);
    let s = serve_host(None, &["discord"], true).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let http = google_oauth::client();
    let settings = json!({"base_urls": {"https://discord.com": fake}});
    google_oauth::admin_setup(
        &http,
        &s.base,
        &root,
        "discord",
        settings,
        (CLIENT_ID, CLIENT_SECRET),
    )
    .await;
    s.state
        .runtime
        .services()
        .set_secret("discord", "bot_token", BOT_TOKEN);

    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let authorize = ("https://discord.com", fake.as_str(), "/oauth2/authorize?");
    let body = json!({"config": {}});
    let to = google_oauth::consent(&http, &s.base, &key, "discord", body, authorize).await;
    assert!(to.contains("status=connected"), "{to}");
    assert_eq!(
        dc.lock().unwrap().asked,
        vec!["identify guilds".to_string()]
    );
    let row = db
        .integration(&Owner::User(ada.id.clone()), "discord")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.account_id.as_deref(), Some(ADA));

    let config = EngineConfig {
        default_rate_limit_wait: Duration::from_millis(50),
        rate_limit_wait_bounds: (Duration::from_millis(10), Duration::from_secs(1)),
        ..EngineConfig::default()
    };
    let engine = SyncEngine::new(s.state.runtime.clone(), s.state.ingest.clone(), config);
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(held(&db, &row.id).await.len(), 392 + 60 + 7);
    let found = search(&s.base, &key, "hovercraft ferry sixty sandbags").await;
    assert_eq!(
        found["results"][0]["external_id"],
        format!("t/{G1}/{CONVOY}").as_str(),
        "{found}"
    );

    // A global rate limit delays the walk; it completes after the wait.
    dc.lock().unwrap().global_limit_next = 1;
    let (job, outcome) = sync_once(&engine, &db, &row, "incremental").await;
    assert_eq!(outcome, Outcome::Delayed, "{job:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, outcome) = sync_once(&engine, &db, &row, "incremental").await;
    assert_eq!(outcome, Outcome::Completed);

    // A deleted message and an edited one: incremental walks read forward only, the next
    // full walk removes the one and rewrites the other.
    {
        let mut d = dc.lock().unwrap();
        d.messages.get_mut(GENERAL).unwrap().remove(&mid(21));
        let edited = d
            .messages
            .get_mut(GENERAL)
            .unwrap()
            .get_mut(&mid(22))
            .unwrap();
        edited["content"] = json!("River update 22: the weir gate is jammed");
        edited["edited_timestamp"] = json!("2026-05-03T08:00:00.000000+00:00");
    }
    let (_, outcome) = sync_once(&engine, &db, &row, "full").await;
    assert_eq!(outcome, Outcome::Completed);
    let now = held(&db, &row.id).await;
    assert_eq!(now.len(), 392 + 60 + 7 - 1);
    assert!(!now.contains(&format!("m/{G1}/{GENERAL}/{}", mid(21))));
    let found = search(&s.base, &key, "weir gate is jammed").await;
    assert_eq!(
        found["results"][0]["external_id"],
        format!("m/{G1}/{GENERAL}/{}", mid(22)).as_str(),
        "{found}"
    );

    // Discord expired the access token: the refresh token (rotated) brings a new one.
    {
        let mut d = dc.lock().unwrap();
        d.user_token = "dc-expired".into();
        d.message(
            GENERAL,
            mid(12_000),
            &who(GRACE, "grace", "Grace Hopper"),
            "Pumps running at the mill",
            json!({}),
        );
    }
    let (_, outcome) = sync_once(&engine, &db, &row, "incremental").await;
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(dc.lock().unwrap().refreshes, 1);
    assert!(
        held(&db, &row.id)
            .await
            .contains(&format!("m/{G1}/{GENERAL}/{}", mid(12_000)))
    );
    let row = db.integration_by_id(&row.id).await.unwrap().unwrap();
    assert_eq!(row.status, status::ACTIVE);
}
