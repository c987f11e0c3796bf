//! Slack as a workspace meets it, through the whole host: an admin sets the OAuth client,
//! the signing secret and the app's rate limits; a user connects (OAuth v2, user scopes,
//! rotating token); the workspace syncs and a search finds a thread by words from a
//! reply; the Events API (challenge, a signed reply that updates one thread, an edit, a
//! deletion, a forged and a stale signature, a retried delivery); an expired token is
//! rotated and a revoked one stops the integration.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tributary::db::{Owner, status};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};
use tributary_sdk::signature::hmac_sha256;

use crate::common::*;
use crate::google_oauth;
use crate::slack::{FLOODS, GENERAL, fixture, sandbag_thread, ts};
use crate::slack_fake::{self, CLIENT_ID, CLIENT_SECRET, TEAM};

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn signed(body: &str, at: i64, secret: &str) -> (String, String) {
    let base = format!("v0:{at}:{body}");
    let sig = format!(
        "v0={}",
        hex::encode(hmac_sha256(secret.as_bytes(), base.as_bytes()))
    );
    (at.to_string(), sig)
}

fn event(id: &str, event: Value) -> String {
    json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "team_id": TEAM, "api_app_id": "A0RIVERS",
        "event": event, "type": "event_callback", "event_id": id, "event_time": 1773100000,
        "authorizations": [{"enterprise_id": null, "team_id": TEAM, "user_id": "U0ADA0001", "is_bot": false}],
        "is_ext_shared_channel": false, "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ"})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_user_connects_slack_and_events_update_threads() {
    let slack = Arc::new(Mutex::new(fixture()));
    slack.lock().unwrap().token = "not-issued-yet".into();
    let fake = format!("http://{}", serve(slack_fake::router(slack.clone())).await);
    let s = serve_host(None, &["slack"], true).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let http = google_oauth::client();
    let settings = json!({"base_urls": {"https://slack.com": fake},
        "rate_limits": {"requests_per_minute": 60000, "concurrency": 4}});
    google_oauth::admin_setup(
        &http,
        &s.base,
        &root,
        "slack",
        settings,
        (CLIENT_ID, CLIENT_SECRET),
    )
    .await;
    let bad = http
        .put(format!("{}/api/admin/providers/slack/settings", s.base))
        .bearer_auth(&root)
        .json(&json!({"rate_limits": {"requests_per_minute": 0, "concurrency": 4}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "a budget of nothing is refused");
    s.state
        .runtime
        .services()
        .set_secret("slack", "signing_secret", SIGNING_SECRET);

    // Connect: Slack's consent screen, the user token under `authed_user`.
    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let body = json!({"config": {"private": "true", "dms": "true"}});
    let authorize = ("https://slack.com", fake.as_str(), "/oauth/v2/authorize?");
    let to = google_oauth::consent(&http, &s.base, &key, "slack", body, authorize).await;
    assert!(to.contains("status=connected"), "{to}");
    assert_eq!(
        slack.lock().unwrap().asked,
        vec!["channels:history,channels:read,groups:history,groups:read,im:history,im:read,mpim:history,mpim:read,users:read".to_string()]
    );
    let row = db
        .integration(&Owner::User(ada.id.clone()), "slack")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.account_id.as_deref()),
        (status::ACTIVE, Some(TEAM))
    );

    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(held(&db, &row.id).await.len(), 560);
    let found = search(&s.base, &key, "ferry forty pallets across the estuary").await;
    assert_eq!(
        found["results"][0]["external_id"],
        sandbag_thread().as_str(),
        "{found}"
    );

    let hook = format!("{}/api/webhooks/integrations/slack", s.base);
    let now = tributary::db::now_ms() / 1000;
    let post = |body: String, (at, sig): (String, String), retry: Option<&str>| {
        let mut r = http
            .post(&hook)
            .header("content-type", "application/json")
            .header("X-Slack-Request-Timestamp", at)
            .header("X-Slack-Signature", sig)
            .body(body);
        if let Some(n) = retry {
            r = r
                .header("X-Slack-Retry-Num", n)
                .header("X-Slack-Retry-Reason", "http_timeout");
        }
        r.send()
    };

    // The Request URL check: the challenge comes back as it was sent.
    let challenge = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    .to_string();
    let resp = post(
        challenge.clone(),
        signed(&challenge, now, SIGNING_SECRET),
        None,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    // A new reply in the sandbag thread, signed: that thread is fetched again.
    let reply_ts = format!("{}.000009", 1_773_000_000 + 40 * 60 + 9);
    slack.lock().unwrap().post(
        GENERAL,
        json!({"ts": reply_ts, "thread_ts": ts(40), "user": "U0KATH003",
        "text": "A hydrofoil barge could double the sandbag run"}),
    );
    let reply = event(
        "Ev0REPLY01",
        json!({"type": "message", "channel": GENERAL, "user": "U0KATH003",
        "text": "A hydrofoil barge could double the sandbag run", "ts": reply_ts, "thread_ts": ts(40),
        "event_ts": reply_ts, "channel_type": "channel"}),
    );
    let forged = post(reply.clone(), signed(&reply, now, "not-the-secret"), None)
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let stale = post(
        reply.clone(),
        signed(&reply, now - 301, SIGNING_SECRET),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        stale.status(),
        401,
        "a replay after five minutes is refused"
    );
    // Signed but not an Events API body: refused, nothing recorded.
    let junk = "<html>not json</html>".to_string();
    let refused = post(junk.clone(), signed(&junk, now, SIGNING_SECRET), None)
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let ok = post(reply.clone(), signed(&reply, now, SIGNING_SECRET), None)
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let retried = post(
        reply.clone(),
        signed(&reply, now + 1, SIGNING_SECRET),
        Some("1"),
    )
    .await
    .unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(
        retried.json::<Value>().await.unwrap()["duplicate"],
        true,
        "one event_id, one delivery"
    );

    // An edit and a deletion of lone messages.
    slack.lock().unwrap().edit(
        FLOODS,
        &ts(1003),
        "Überschwemmung 3: the culvert is blocked by driftwood",
        &ts(1700),
    );
    let edit = event(
        "Ev0EDIT0001",
        json!({"type": "message", "subtype": "message_changed", "channel": FLOODS,
        "hidden": true, "ts": ts(1700), "event_ts": ts(1700), "channel_type": "channel",
        "message": {"type": "message", "user": "U0ADA0001", "text": "Überschwemmung 3: the culvert is blocked by driftwood",
            "ts": ts(1003), "edited": {"user": "U0ADA0001", "ts": ts(1700)}},
        "previous_message": {"type": "message", "user": "U0ADA0001", "text": "Überschwemmung 3: Pegel steigt 📈", "ts": ts(1003)}}),
    );
    assert_eq!(
        post(edit.clone(), signed(&edit, now, SIGNING_SECRET), None)
            .await
            .unwrap()
            .status(),
        200
    );
    slack.lock().unwrap().delete(FLOODS, &ts(1004));
    let gone = event(
        "Ev0DELETE01",
        json!({"type": "message", "subtype": "message_deleted", "channel": FLOODS,
        "hidden": true, "ts": ts(1701), "deleted_ts": ts(1004), "event_ts": ts(1701), "channel_type": "channel",
        "previous_message": {"type": "message", "user": "U0ADA0001", "text": "Überschwemmung 4", "ts": ts(1004)}}),
    );
    assert_eq!(
        post(gone.clone(), signed(&gone, now, SIGNING_SECRET), None)
            .await
            .unwrap()
            .status(),
        200
    );

    let fanout = tributary::webhooks::Fanout::new(db.clone(), &s.state.webhooks);
    assert_eq!(fanout.drain().await.unwrap().done, 3);
    run_due(&engine).await;
    let found = search(&s.base, &key, "hydrofoil barge").await;
    assert_eq!(
        found["results"][0]["external_id"],
        sandbag_thread().as_str(),
        "{found}"
    );
    let found = search(&s.base, &key, "culvert blocked by driftwood").await;
    assert_eq!(
        found["results"][0]["external_id"],
        format!("{FLOODS}/{}", ts(1003)).as_str(),
        "{found}"
    );
    let held_now = held(&db, &row.id).await;
    assert!(
        !held_now.contains(&format!("{FLOODS}/{}", ts(1004))),
        "the deleted message is gone"
    );
    assert_eq!(held_now.len(), 559);

    // Rotation: the 12-hour token expired; the refresh token brings a new one.
    {
        let mut f = slack.lock().unwrap();
        f.expired = true;
        f.token = "xoxe.xoxp-expired".into();
        f.post(
            FLOODS,
            json!({"ts": ts(1800), "user": "U0ADA0001", "text": "Tide gates closed at dusk"}),
        );
    }
    let (job, outcome) = sync_once(&engine, &db, &row, "incremental").await;
    assert_eq!(outcome, Outcome::Completed, "{job:?}");
    assert_eq!(slack.lock().unwrap().refreshes, 1);
    assert!(
        held(&db, &row.id)
            .await
            .contains(&format!("{FLOODS}/{}", ts(1800)))
    );

    // Revoked, refresh token and all: the integration asks to be reconnected.
    {
        let mut f = slack.lock().unwrap();
        f.revoked = true;
        f.token = "xoxp-someone-else".into();
        f.refresh = None;
    }
    db.request_sync(&row.id, "slack", "incremental", "manual")
        .await
        .unwrap();
    run_due(&engine).await;
    let row = db.integration_by_id(&row.id).await.unwrap().unwrap();
    assert_eq!(row.status, status::TOKEN_EXPIRED, "{row:?}");
}
