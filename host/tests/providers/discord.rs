//! The Discord plugin (the real `.wasm`) against the fake Discord: what the person may
//! read (shared guilds, roles and overwrites, no private threads), 540 messages walked
//! back in pages while per-route buckets are waited out before a 429, threads and forum
//! posts as one resource, incremental walks forward from each channel's newest id,
//! typed errors. The whole host is in `discord_connect`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tributary::credentials::{Credential, Kind};
use tributary::model::{ListMode, ListRequest, Page, PluginError};
use tributary::runtime::{CallError, Integration, Limits, Session};

use crate::common::*;
use crate::discord_fake::{self, BOT_ID, BOT_TOKEN, Discord, snowflake};
use crate::slack::text;

pub const G1: &str = "1504364254634180618";
const G2: &str = "1504364254634180700";
const G3: &str = "1504364254634180800";
pub const GENERAL: &str = "1504364254634180620";
const NEWS: &str = "1504364254634180621";
const WARDENS: &str = "1504364254634180622";
const FORUM: &str = "1504364254634180623";
pub const CONVOY: &str = "1504364254634180630";
pub const ADA: &str = "1504300000000000001";
pub const GRACE: &str = "1504300000000000002";
const WARDEN_ROLE: &str = "1504364254634190001";
/// 2026-05-01T00:00:00Z.
const T0: u64 = 1_777_593_600_000;

pub fn who(id: &str, name: &str, global: &str) -> Value {
    json!({"id": id, "username": name, "global_name": global, "avatar": null, "discriminator": "0",
        "public_flags": 0, "flags": 0, "banner": null, "accent_color": null})
}

/// A message id `i` minutes after `T0`.
pub fn mid(i: u64) -> u64 {
    snowflake(T0 + i * 60_000, i)
}

fn channel(id: &str, kind: u8, name: &str, extra: Value) -> Value {
    let mut c = json!({"id": id, "type": kind, "flags": 0, "guild_id": G1, "name": name,
        "parent_id": null, "position": 0, "permission_overwrites": [], "nsfw": false});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn thread(
    id: &str,
    kind: u8,
    name: &str,
    parent: &str,
    archived: bool,
    last: u64,
    count: u64,
) -> Value {
    channel(
        id,
        kind,
        name,
        json!({"parent_id": parent, "last_message_id": last.to_string(),
        "message_count": count, "owner_id": ADA, "thread_metadata": {"archived": archived,
        "archive_timestamp": format!("2026-05-0{}T00:00:00.000000+00:00", 2 + (last % 7)),
        "auto_archive_duration": 4320, "locked": false}}),
    )
}

/// River Guild (Ada, Grace and the bot; Ada not a warden), Other Guild (bot only) and
/// Ada's own (no bot). 540 messages: #general 400 (joins, replies, mentions, custom
/// emoji, files, an embed, an edit), #news 60, two threads of #general (one archived),
/// five forum posts; plus what Ada may not read (#wardens, its thread, a private thread).
pub fn fixture() -> Discord {
    let mut d = Discord {
        user_token: "dc-access-0".into(),
        user: json!({"id": ADA, "username": "ada", "global_name": "Ada Lovelace", "avatar": null,
            "discriminator": "0", "mfa_enabled": false, "locale": "en-GB"}),
        app_flags: 1 << 18,
        bucket: (50, Duration::from_secs(1)),
        bot_in: vec![G1.into(), G2.into()],
        ..Default::default()
    };
    let view = (1u64 << 10) | (1 << 16) | (1 << 11);
    d.guilds.insert(
        G1.into(),
        json!({"id": G1, "name": "River Guild", "owner_id": GRACE,
        "roles": [{"id": G1, "name": "@everyone", "permissions": view.to_string()},
                  {"id": WARDEN_ROLE, "name": "Wardens", "permissions": "0"}]}),
    );
    d.guilds.insert(
        G2.into(),
        json!({"id": G2, "name": "Other Guild", "owner_id": GRACE, "roles": []}),
    );
    d.guilds.insert(
        G3.into(),
        json!({"id": G3, "name": "Ada's own", "owner_id": ADA, "roles": []}),
    );
    d.members.insert(
        G1.into(),
        [
            (ADA.to_string(), vec![]),
            (GRACE.to_string(), vec![WARDEN_ROLE.to_string()]),
            (BOT_ID.to_string(), vec![]),
        ]
        .into_iter()
        .collect(),
    );
    d.members.insert(
        G2.into(),
        [(GRACE.to_string(), vec![])].into_iter().collect(),
    );
    d.members
        .insert(G3.into(), [(ADA.to_string(), vec![])].into_iter().collect());
    let (ada, grace) = (
        who(ADA, "ada", "Ada Lovelace"),
        who(GRACE, "grace", "Grace Hopper"),
    );
    let hidden = json!([{"id": G1, "type": 0, "allow": "0", "deny": "1024"},
        {"id": WARDEN_ROLE, "type": 0, "allow": "1024", "deny": "0"}]);
    d.channels.insert(
        G1.into(),
        vec![
            channel("1504364254634180619", 4, "Text Channels", json!({})),
            channel(
                GENERAL,
                0,
                "general",
                json!({"parent_id": "1504364254634180619"}),
            ),
            channel(NEWS, 5, "news", json!({})),
            channel(
                WARDENS,
                0,
                "wardens",
                json!({"permission_overwrites": hidden}),
            ),
            channel(FORUM, 15, "field-reports", json!({})),
            channel("1504364254634180624", 2, "Lobby", json!({})),
            thread(CONVOY, 11, "Sandbag convoy", GENERAL, false, mid(5029), 30),
            thread(
                "1504364254634180631",
                11,
                "Old gauges",
                GENERAL,
                true,
                mid(6009),
                10,
            ),
            thread(
                "1504364254634180632",
                12,
                "Secret plans",
                GENERAL,
                false,
                mid(7004),
                5,
            ),
            thread(
                "1504364254634180640",
                11,
                "Warden rota",
                WARDENS,
                false,
                mid(8004),
                5,
            ),
        ],
    );
    for f in 0..5u64 {
        let id = (1504364254634180650 + f).to_string();
        let last = mid(9000 + f * 10 + 7);
        d.channels.get_mut(G1).unwrap().push(thread(
            &id,
            11,
            &format!("Report {f}: culvert"),
            FORUM,
            f >= 3,
            last,
            8,
        ));
        for i in 0..8 {
            d.message(
                &id,
                mid(9000 + f * 10 + i),
                &grace,
                &format!("Field report {f} line {i}"),
                json!({}),
            );
        }
    }
    for i in 0..400u64 {
        let author = if i % 2 == 0 { &ada } else { &grace };
        let (content, extra) = match i {
            7 => (
                format!("<@{GRACE}> look at <#{NEWS}> <:river:991> 🌊"),
                json!({"mentions": [grace.clone()]}),
            ),
            9 => (
                "Gauge feed".to_string(),
                json!({"embeds": [{"title": "Gauge 9", "description": "Level 4.2 m and rising"}]}),
            ),
            11 => (
                "Überschwemmung im Tal (corrected)".to_string(),
                json!({"edited_timestamp": "2026-05-02T10:00:00.000000+00:00"}),
            ),
            _ if i % 50 == 0 => (String::new(), json!({"type": 7})),
            _ if i % 40 == 3 => (
                format!("Map {i}"),
                json!({"attachments": [{"id": "1", "filename": format!("levee-map-{i}.pdf"), "size": 1200}]}),
            ),
            _ if i % 30 == 1 && i > 1 => (
                format!("Agreed, update {i}"),
                json!({"type": 19,
                "referenced_message": {"id": mid(i - 1).to_string(), "type": 0, "content": format!("River update {}", i - 1), "author": ada.clone()}}),
            ),
            _ => (format!("River update {i}"), json!({})),
        };
        d.message(GENERAL, mid(i), author, &content, extra);
    }
    for i in 0..60u64 {
        d.message(
            NEWS,
            mid(1000 + i),
            &grace,
            &format!("Bulletin {i}: Pegelstand ↑"),
            json!({}),
        );
    }
    for i in 0..30u64 {
        let text = if i == 17 {
            "The hovercraft can ferry sixty sandbags per trip".to_string()
        } else {
            format!("Convoy note {i}")
        };
        d.message(
            CONVOY,
            mid(5000 + i),
            if i % 2 == 0 { &ada } else { &grace },
            &text,
            json!({}),
        );
    }
    for i in 0..10u64 {
        d.message(
            "1504364254634180631",
            mid(6000 + i),
            &grace,
            &format!("Old gauge {i}"),
            json!({}),
        );
    }
    for (ch, base) in [
        (WARDENS, 7500u64),
        ("1504364254634180632", 7000),
        ("1504364254634180640", 8000),
    ] {
        for i in 0..5 {
            d.message(
                ch,
                mid(base + i),
                &grace,
                "Wardens only: the spillway key is under the mat",
                json!({}),
            );
        }
    }
    d
}

struct Fake {
    dc: Arc<Mutex<Discord>>,
    t: TestHost,
}

async fn setup() -> Fake {
    let dc = Arc::new(Mutex::new(fixture()));
    let addr = serve(discord_fake::router(dc.clone())).await;
    let t = host(None, &["discord"], Limits::default(), true).await;
    let settings = base_override("https://discord.com", addr);
    t.runtime
        .services()
        .set_settings("discord", settings)
        .await
        .unwrap();
    t.runtime
        .services()
        .set_secret("discord", "bot_token", BOT_TOKEN);
    let credential = Credential {
        kind: Kind::Oauth2,
        secret: "dc-access-0".into(),
        username: None,
        scopes: vec![],
        expires_at: None,
    };
    t.credentials.set("dc-1", credential);
    Fake { dc, t }
}

impl Fake {
    async fn session(&self, config: &[(&str, &str)]) -> Session {
        let config = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.t
            .runtime
            .session("discord", Some(Integration::new("dc-1", config)))
            .await
            .unwrap()
    }
}

/// A walk that waits out rate limits as the host would; the pages and the waits.
async fn walk(s: &mut Session, mode: ListMode, token: Option<String>) -> (Vec<Page>, usize) {
    let (mut pages, mut waits, mut cursor) = (Vec::new(), 0, None);
    loop {
        let req = ListRequest {
            mode,
            cursor: cursor.clone(),
            sync_token: token.clone(),
            modified_after: None,
            page_size: 100,
        };
        match s.list(&req).await {
            Ok(page) => {
                cursor = page.next_cursor.clone();
                pages.push(page);
                if cursor.is_none() {
                    return (pages, waits);
                }
            }
            Err(CallError::Plugin(PluginError::RateLimited(r))) => {
                waits += 1;
                assert!(waits < 200, "the walk ends");
                tokio::time::sleep(Duration::from_millis(r.retry_after_ms.unwrap_or(100))).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_discord_reads_what_the_person_may_read_in_pages() {
    let fake = setup().await;
    // Three message requests per 200 ms per channel: the plugin waits, Discord never says 429.
    fake.dc.lock().unwrap().bucket = (3, Duration::from_millis(200));
    let mut s = fake.session(&[]).await;
    let account = s.check().await.unwrap();
    assert_eq!(
        (account.id.as_str(), account.name.as_str()),
        (ADA, "Ada Lovelace")
    );

    let (pages, waits) = walk(&mut s, ListMode::Full, None).await;
    assert!(waits > 0, "the bucket ran dry at least once");
    assert_eq!(
        fake.dc.lock().unwrap().violations,
        0,
        "no request hit an empty bucket"
    );
    let all: Vec<_> = pages.iter().flat_map(|p| p.resources.iter()).collect();
    let messages = all.iter().filter(|r| r.kind == "message").count();
    assert_eq!(messages, 392 + 60, "no joins, nothing from #wardens");
    let mut threads: Vec<_> = all
        .iter()
        .filter(|r| r.kind == "thread")
        .map(|r| r.title.clone())
        .collect();
    threads.sort();
    assert_eq!(threads.len(), 7, "{threads:?}");
    assert!(
        threads.contains(&"#general › Old gauges".to_string())
            && threads.contains(&"#field-reports › Report 4: culvert".to_string())
    );
    assert!(!all.iter().any(|r| r.title.contains("Secret")
        || r.title.contains("Warden")
        || r.id.contains(WARDENS)));
    assert!(
        !all.iter().any(|r| r.id.contains(G2) || r.id.contains(G3)),
        "only guilds Ada and the bot share"
    );
    let body = |i: u64| {
        let id = format!("m/{G1}/{GENERAL}/{}", mid(i));
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
        body(7).contains("@Grace Hopper look at #news :river: 🌊"),
        "{}",
        body(7)
    );
    assert!(body(9).contains("Gauge 9\nLevel 4.2 m and rising"));
    assert!(body(11).contains("(edited)"));
    assert!(
        body(31).contains("(reply to Ada Lovelace: River update 30)"),
        "{}",
        body(31)
    );
    assert!(body(43).contains("Files: levee-map-43.pdf"));
    let link = all
        .iter()
        .find(|r| r.kind == "thread" && r.title.contains("convoy"))
        .unwrap();
    assert_eq!(
        link.url.as_deref(),
        Some(format!("https://discord.com/channels/{G1}/{CONVOY}").as_str())
    );

    let convoy = s.fetch(&format!("t/{G1}/{CONVOY}")).await.unwrap();
    let t = text(&convoy);
    assert!(
        t.starts_with("#general › Sandbag convoy (River Guild)") && t.contains("sixty sandbags"),
        "{t}"
    );
    assert_eq!(t.matches("Convoy note").count(), 29);
    let err = s
        .fetch(&format!("m/{G1}/{WARDENS}/{}", mid(7501)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::NotFound(_))),
        "{err:?}"
    );
    let err = s
        .fetch(&format!("t/{G1}/1504364254634180632"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::NotFound(_))),
        "private threads stay private: {err:?}"
    );

    // Forward from each channel's newest id: only the new messages.
    fake.dc.lock().unwrap().bucket = (50, Duration::from_secs(1));
    {
        let mut d = fake.dc.lock().unwrap();
        let grace = who(GRACE, "grace", "Grace Hopper");
        for i in 0..3 {
            d.message(
                GENERAL,
                mid(11_000 + i),
                &grace,
                &format!("Late news {i}"),
                json!({}),
            );
        }
        d.message(NEWS, mid(11_010), &grace, "Bulletin: all clear", json!({}));
    }
    let (inc, _) = walk(
        &mut s,
        ListMode::Incremental,
        pages.last().unwrap().sync_token.clone(),
    )
    .await;
    let mut ids: Vec<_> = inc
        .iter()
        .flat_map(|p| p.resources.iter())
        .filter(|r| r.kind == "message")
        .map(|r| r.id.clone())
        .collect();
    ids.sort();
    let mut want: Vec<String> = (0..3)
        .map(|i| format!("m/{G1}/{GENERAL}/{}", mid(11_000 + i)))
        .collect();
    want.push(format!("m/{G1}/{NEWS}/{}", mid(11_010)));
    want.sort();
    assert_eq!(ids, want);

    // A global 429: its exact `retry_after`, said to be global.
    fake.dc.lock().unwrap().global_limit_next = 1;
    let mut fresh = fake.session(&[]).await;
    let err = fresh.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(r)) if r.retry_after_ms == Some(250) && r.message.contains("global")),
        "{err:?}"
    );
    // A server Ada is not in cannot be named; a dead token is unauthorized.
    let mut other = fake.session(&[("guilds", G2)]).await;
    let err = other.check().await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::InvalidConfig(m)) if m.contains("not a member")),
        "{err:?}"
    );
    fake.dc.lock().unwrap().app_flags = 0;
    let err = fake.session(&[]).await.check().await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::InvalidConfig(m)) if m.contains("Message Content")),
        "{err:?}"
    );
    fake.dc.lock().unwrap().user_token = "dc-other".into();
    let err = fake.session(&[]).await.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::Unauthorized(_))),
        "{err:?}"
    );
}
