//! The Slack plugin (the real `.wasm`) against the fake Slack: a workspace of 600 messages
//! in four conversations walked in pages, threads as one resource, names and markup
//! resolved, checkpoints, typed errors; then through the whole host: OAuth v2 with a
//! user token, search by words from a reply, Events API deliveries (challenge, signed,
//! forged, stale, retried), token rotation and revocation.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tributary::credentials::{Credential, Kind};
use tributary::model::{Body, ListMode, ListRequest, PluginError};
use tributary::runtime::{CallError, Integration, Limits, Session};

use crate::common::*;
use crate::gdrive::walk;
use crate::slack_fake::{self, ME, Slack, TEAM};

pub const GENERAL: &str = "C01GENERAL";
pub const FLOODS: &str = "C02FLOODS";
const RANDOM: &str = "C03RANDOM";
const PRIVATE: &str = "G04LEVEEOPS";
const DM: &str = "D05GRACE";
pub const TOKEN: &str = "xoxp-rivers-test";

fn user(id: &str, name: &str, display: &str) -> (String, Value) {
    (
        id.to_string(),
        json!({"id": id, "team_id": TEAM, "name": name, "real_name": display, "deleted": false,
            "is_bot": false, "profile": {"real_name": display, "display_name": display}}),
    )
}

/// `1773000000.000100` plus `i` minutes, as Slack writes it.
pub fn ts(i: u64) -> String {
    format!("{}.{:06}", 1_773_000_000 + i * 60, 100 + i % 7)
}

/// The thread whose reply the search tests look for, in #general.
pub fn sandbag_thread() -> String {
    format!("{GENERAL}/{}", ts(40))
}

/// 600 messages: #general (260, 13 threads of 3 replies, one mention with a link),
/// #floods (200: unicode and emoji, RiverBot posts, shared files, an edit, joins),
/// private #levee-ops (60), a DM with Grace (40), and #random (30) that Ada never joined.
pub fn fixture() -> Slack {
    let mut s = Slack {
        token: TOKEN.into(),
        ..Default::default()
    };
    s.users.extend([
        user(ME, "ada", "Ada Lovelace"),
        user("U0GRACE02", "grace", "Grace Hopper"),
        user("U0KATH003", "katherine", "Katherine Johnson"),
    ]);
    s.channel(GENERAL, "general", json!({"is_general": true}));
    s.channel(FLOODS, "floods", json!({}));
    s.channel(RANDOM, "random", json!({"is_member": false}));
    s.channel(
        PRIVATE,
        "levee-ops",
        json!({"is_private": true, "is_channel": false, "is_group": true}),
    );
    s.channel(
        DM,
        "",
        json!({"is_im": true, "is_channel": false, "user": "U0GRACE02", "is_member": null}),
    );
    let people = [ME, "U0GRACE02", "U0KATH003"];
    for i in 0..260u64 {
        let text = if i == 40 {
            "Sandbag logistics for Thursday".to_string()
        } else if i == 41 {
            "<@U0GRACE02> can you check <https://gauges.example/7|gauge 7>? &lt;urgent&gt;".into()
        } else {
            format!("General update {i} on the river levels")
        };
        s.post(
            GENERAL,
            json!({"ts": ts(i), "user": people[i as usize % 3], "text": text}),
        );
        if i % 20 == 0 {
            for r in 1..=3u64 {
                let text = if i == 40 && r == 2 {
                    "The ferry can carry forty pallets of sandbags across the estuary".to_string()
                } else {
                    format!("Reply {r} to update {i}")
                };
                s.post(
                    GENERAL,
                    json!({"ts": format!("{}.{:06}", 1_773_000_000 + i * 60 + r, 1),
                    "thread_ts": ts(i), "user": people[r as usize % 3], "text": text,
                    "parent_user_id": people[i as usize % 3]}),
                );
            }
        }
    }
    for i in 0..200u64 {
        let m = match i % 10 {
            0 => json!({"subtype": "bot_message", "bot_id": "B0RIVERBOT", "username": "RiverBot",
                "bot_profile": {"id": "B0RIVERBOT", "name": "RiverBot", "deleted": false},
                "text": format!("Gauge {i}: 4.{i} m ↑ 🌊")}),
            1 => json!({"user": "U0KATH003", "subtype": "file_share", "text": "",
                "files": [{"id": format!("F{i:05}"), "name": format!("flood-map-{i}.pdf"),
                    "title": format!("Flood map {i}"), "mimetype": "application/pdf"}]}),
            _ => {
                json!({"user": people[i as usize % 3], "text": format!("Überschwemmung {i}: Pegel steigt 📈")})
            }
        };
        let mut m = m;
        m["ts"] = json!(ts(1000 + i));
        s.post(FLOODS, m);
    }
    s.post(
        FLOODS,
        json!({"ts": ts(1500), "subtype": "channel_join", "user": "U0GRACE02",
        "text": "<@U0GRACE02> has joined the channel"}),
    );
    s.edit(
        FLOODS,
        &ts(1002),
        "Überschwemmung 2: Pegel fällt wieder",
        &ts(1300),
    );
    for i in 0..60u64 {
        s.post(
            PRIVATE,
            json!({"ts": ts(2000 + i), "user": ME, "text": format!("Levee inspection {i}")}),
        );
    }
    for i in 0..40u64 {
        s.post(DM, json!({"ts": ts(3000 + i), "user": people[i as usize % 2], "text": format!("Private chat {i}")}));
    }
    for i in 0..30u64 {
        s.post(
            RANDOM,
            json!({"ts": ts(4000 + i), "user": "U0GRACE02", "text": format!("Random {i}")}),
        );
    }
    s
}

/// Ada's choice: public channels she is in, private ones, DMs.
pub fn config() -> Vec<(String, String)> {
    vec![
        ("private".to_string(), "true".to_string()),
        ("dms".to_string(), "true".to_string()),
    ]
}

pub struct Fake {
    pub slack: Arc<Mutex<Slack>>,
    pub t: TestHost,
}

pub async fn setup() -> Fake {
    let slack = Arc::new(Mutex::new(fixture()));
    let addr = serve(slack_fake::router(slack.clone())).await;
    let t = host(None, &["slack"], Limits::default(), true).await;
    let mut settings = base_override("https://slack.com", addr);
    settings.rate_limits = Some(tributary::services::RateLimitOverride {
        requests_per_minute: 60_000,
        requests_per_day: None,
        concurrency: 4,
    });
    t.runtime
        .services()
        .set_settings("slack", settings)
        .await
        .unwrap();
    let credential = Credential {
        kind: Kind::Oauth2,
        secret: TOKEN.into(),
        username: None,
        scopes: vec![],
        expires_at: None,
    };
    t.credentials.set("sl-1", credential);
    Fake { slack, t }
}

impl Fake {
    pub async fn session(&self) -> Session {
        self.t
            .runtime
            .session("slack", Some(Integration::new("sl-1", config())))
            .await
            .unwrap()
    }
}

/// A content's text (panics on bytes or downloads).
pub fn text(c: &tributary::model::Content) -> String {
    match &c.body {
        Body::Text(t) => t.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_slack_walks_conversations_then_from_checkpoints() {
    let fake = setup().await;
    let mut s = fake.session().await;
    let account = s.check().await.unwrap();
    assert_eq!(
        (account.id.as_str(), account.name.as_str()),
        (TEAM, "ada @ Rivers")
    );

    let pages = walk(&mut s, ListMode::Full, None).await;
    assert!(
        pages.len() > 6,
        "history pages were followed: {}",
        pages.len()
    );
    let all: Vec<_> = pages.iter().flat_map(|p| p.resources.iter()).collect();
    assert_eq!(
        all.len(),
        260 + 200 + 60 + 40,
        "no joins, no replies, not #random"
    );
    assert!(!all.iter().any(|r| r.id.starts_with(RANDOM)));
    let threads: Vec<_> = all.iter().filter(|r| r.kind == "thread").collect();
    assert_eq!(threads.len(), 13);
    assert!(
        threads
            .iter()
            .all(|r| r.content.is_none() && r.version.is_some())
    );
    let lone = |id: String| {
        text(
            all.iter()
                .find(|r| r.id == id)
                .unwrap()
                .content
                .as_ref()
                .unwrap(),
        )
    };
    assert!(
        lone(format!("{GENERAL}/{}", ts(41)))
            .contains("@Grace Hopper can you check gauge 7 (https://gauges.example/7)? <urgent>"),
        "{}",
        lone(format!("{GENERAL}/{}", ts(41)))
    );
    let bot = lone(format!("{FLOODS}/{}", ts(1000)));
    assert!(bot.contains("RiverBot") && bot.contains("↑ 🌊"), "{bot}");
    assert!(lone(format!("{FLOODS}/{}", ts(1001))).contains("Files: Flood map 1"));
    let edited = lone(format!("{FLOODS}/{}", ts(1002)));
    assert!(
        edited.contains("(edited)") && edited.contains("Pegel fällt wieder"),
        "{edited}"
    );
    assert!(lone(format!("{DM}/{}", ts(3001))).starts_with("DM with Grace Hopper"));
    let link = all
        .iter()
        .find(|r| r.id == sandbag_thread())
        .unwrap()
        .url
        .clone();
    assert_eq!(
        link.as_deref(),
        Some(
            format!(
                "https://rivers.slack.com/archives/{GENERAL}/p{}",
                ts(40).replace('.', "")
            )
            .as_str()
        )
    );

    let thread = s.fetch(&sandbag_thread()).await.unwrap();
    let body = text(&thread);
    assert_eq!(thread.kind, "thread");
    assert_eq!(thread.title, "#general: Sandbag logistics for Thursday");
    assert!(
        body.contains("Grace Hopper") && body.contains("forty pallets of sandbags"),
        "{body}"
    );
    assert_eq!(
        body.matches(" · 2026-").count(),
        4,
        "opener and three replies: {body}"
    );

    // New messages: only they come, from each channel's checkpoint.
    {
        let mut f = fake.slack.lock().unwrap();
        f.post(
            FLOODS,
            json!({"ts": ts(1600), "user": ME, "text": "Dyke breach near the mill"}),
        );
        f.post(
            DM,
            json!({"ts": ts(3100), "user": "U0GRACE02", "text": "See you at the weir"}),
        );
    }
    let token = pages.last().unwrap().sync_token.clone();
    let calls_before = fake.slack.lock().unwrap().calls.len();
    let inc = walk(&mut s, ListMode::Incremental, token.clone()).await;
    let mut ids: Vec<_> = inc
        .iter()
        .flat_map(|p| p.resources.iter().map(|r| r.id.clone()))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            format!("{FLOODS}/{}", ts(1600)),
            format!("{DM}/{}", ts(3100))
        ]
    );
    let calls: Vec<String> = fake.slack.lock().unwrap().calls[calls_before..].to_vec();
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "conversations.history")
            .count(),
        4,
        "{calls:?}"
    );
    // The older walk's checkpoints were replaced by the newer one's.
    let again = walk(
        &mut s,
        ListMode::Incremental,
        inc.last().unwrap().sync_token.clone(),
    )
    .await;
    assert!(again.iter().all(|p| p.resources.is_empty()));
    let stale = ListRequest {
        mode: ListMode::Incremental,
        cursor: None,
        sync_token: token,
        modified_after: None,
        page_size: 100,
    };
    let err = s.list(&stale).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::NotFound(m)) if m.contains("full walk")),
        "{err:?}"
    );

    // A deleted opener is gone; a real 429 is a rate limit with its wait.
    fake.slack.lock().unwrap().delete(FLOODS, &ts(1005));
    let err = s
        .fetch(&format!("{FLOODS}/{}", ts(1005)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::NotFound(_))),
        "{err:?}"
    );
    fake.slack.lock().unwrap().rate_limit_next = 1;
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(r)) if r.retry_after_ms == Some(1000)),
        "{err:?}"
    );
    // A channel outside the choice is not fetched, even when asked for by id.
    let err = s
        .fetch(&format!("{RANDOM}/{}", ts(4001)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::NotFound(_))),
        "{err:?}"
    );
    // Revoked: `200 {"ok": false, "error": "token_revoked"}` is unauthorized.
    {
        let mut f = fake.slack.lock().unwrap();
        f.revoked = true;
        f.token = "xoxp-other".into();
    }
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::Unauthorized(m)) if m.contains("token_revoked")),
        "{err:?}"
    );
}
