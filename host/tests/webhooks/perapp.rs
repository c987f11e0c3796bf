//! Per-app routing with a Slack-shaped provider: one address for the app, `v0=`
//! signatures over a signed timestamp (a replay outside five minutes gets 401), the
//! handshake answered from the plugin, and each event fanned out to every integration of
//! the workspace it names; a workspace nobody connected is listed as UNMATCHED.

use serde_json::{Value, json};
use tributary::db::{Connect, Owner, now_ms};
use tributary::webhooks::Fanout;

use super::common::*;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

async fn deliver(url: &str, body: &Value, ts: i64, secret: &str) -> (u16, String) {
    let bytes = serde_json::to_vec(body).unwrap();
    let mut base = format!("v0:{ts}:").into_bytes();
    base.extend_from_slice(&bytes);
    let sig = format!(
        "v0={}",
        hex::encode(tributary_sdk::signature::hmac_sha256(
            secret.as_bytes(),
            &base
        ))
    );
    let resp = reqwest::Client::new()
        .post(url)
        .header("X-Slack-Request-Timestamp", ts.to_string())
        .header("X-Slack-Signature", sig)
        .body(bytes)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn event(team: &str, ts: &str) -> Value {
    json!({"type": "event_callback", "team_id": team, "event_id": format!("Ev{ts}"),
        "event": {"type": "message", "channel": "C1", "ts": ts}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_per_app_deliveries_reach_every_integration_of_the_workspace() {
    let s = serve_host(None, &["evented"], false).await;
    s.state
        .runtime
        .services()
        .set_secret("evented", "signing_secret", SECRET);
    let db = s.state.db();
    let mut rows = Vec::new();
    for (email, team) in [("a@t.test", "T1"), ("b@t.test", "T1"), ("c@t.test", "T2")] {
        let user = db.create_user(email, false).await.unwrap();
        let config = serde_json::Map::new();
        let owner = Owner::User(user.id.clone());
        let row = db
            .connect_integration(Connect {
                owner: &owner,
                provider: "evented",
                user_id: &user.id,
                config: &config,
                account: (team, "Team"),
            })
            .await
            .unwrap();
        rows.push(row);
    }
    let url = format!("{}/api/webhooks/integrations/evented", s.base);
    let now = now_ms() / 1000;
    let fanout = Fanout::new(db.clone(), &s.state.webhooks);

    // The handshake: the plugin's answer, nothing recorded.
    let (code, body) = deliver(
        &url,
        &json!({"type": "url_verification", "challenge": "3eZbrw1a"}),
        now,
        SECRET,
    )
    .await;
    assert_eq!((code, body.as_str()), (200, "3eZbrw1a"));
    assert!(db.deliveries(None, 10).await.unwrap().is_empty());

    // An event of T1 reaches both T1 integrations, not T2's.
    let (code, _) = deliver(&url, &event("T1", "1.000100"), now, SECRET).await;
    assert_eq!(code, 200);
    assert_eq!(fanout.drain().await.unwrap().done, 1);
    assert_eq!(db.deliveries(Some("DONE"), 10).await.unwrap()[0].queued, 2);
    for (row, expected) in rows.iter().zip([1, 1, 0]) {
        let jobs = db.sync_jobs(Some(&row.id), 10).await.unwrap();
        assert_eq!(jobs.len(), expected, "{}", row.id);
        if expected == 1 {
            assert_eq!(jobs[0].external_id.as_deref(), Some("C1:1.000100"));
        }
    }

    // A workspace nobody connected: acknowledged, listed for admins as UNMATCHED.
    let (code, _) = deliver(&url, &event("T9", "2.0"), now, SECRET).await;
    assert_eq!(code, 200);
    assert_eq!(fanout.drain().await.unwrap().unmatched, 1);
    assert_eq!(
        db.deliveries(Some("UNMATCHED"), 10).await.unwrap()[0]
            .account_id
            .as_deref(),
        Some("T9")
    );

    // A captured delivery replayed six minutes later, and a forged one: 401, no trace.
    let before = db.deliveries(None, 10).await.unwrap().len();
    let (code, _) = deliver(&url, &event("T1", "3.0"), now - 360, SECRET).await;
    assert_eq!(code, 401);
    let (code, body) = deliver(&url, &event("T1", "3.0"), now, "not-the-secret").await;
    assert_eq!(code, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "invalid_signature"
    );
    assert_eq!(db.deliveries(None, 10).await.unwrap().len(), before);
    // The per-integration address does not exist for a per-app provider.
    let (code, _) = deliver(
        &format!("{url}/{}", rows[0].id),
        &event("T1", "4.0"),
        now,
        SECRET,
    )
    .await;
    assert_eq!(code, 404);
}
