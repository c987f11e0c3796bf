//! Full-sync throughput of the first-party providers against their fakes (run with
//! `cargo bench -p tributary --bench providers`): the real `.wasm` in the real host, the
//! sync engine, host downloads (Drive), extraction and the embedded index (BM25), SQLite. Prints
//! items/s per provider for `docs/providers.md`.

#[path = "../tests/providers/calendar_fake.rs"]
mod calendar_fake;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/providers/discord_fake.rs"]
mod discord_fake;
#[path = "../tests/providers/drive_fake.rs"]
mod drive_fake;
#[path = "../tests/providers/github_fake.rs"]
mod github_fake;
#[path = "../tests/providers/github_repo.rs"]
mod github_repo;
#[path = "../tests/providers/gitlab_fake.rs"]
mod gitlab_fake;
#[path = "../tests/providers/gmail_fake.rs"]
mod gmail_fake;
#[path = "../tests/providers/slack_fake.rs"]
mod slack_fake;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Map;
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

// The allocator the `tributary` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FILES: usize = 3_000;
const TOKEN: &str = "ya29.bench";

fn drive() -> drive_fake::Drive {
    let mut d = drive_fake::Drive {
        access_token: TOKEN.into(),
        ..Default::default()
    };
    for i in 0..FILES {
        let (mime, body) = match i % 3 {
            0 => (
                drive_fake::DOC,
                format!(
                    "Design note {i} about the river delta and its {} channels",
                    i % 17
                ),
            ),
            1 => (
                "text/plain",
                format!("Plain notes {i}: quarterly figures for region {}", i % 11),
            ),
            _ => (
                "text/html",
                format!(
                    "<html><body><h1>Minutes {i}</h1><p>Attendees discussed item {}.</p></body></html>",
                    i % 23
                ),
            ),
        };
        d.put(drive_fake::FakeFile {
            id: format!("file-{i:05}"),
            name: format!("Item {i}"),
            mime: mime.into(),
            parents: vec!["root".into()],
            drive_id: None,
            trashed: false,
            version: 1,
            modified: "2024-05-01T10:00:00.000Z".into(),
            body: body.into_bytes(),
            size: None,
        });
    }
    d
}

fn calendar() -> calendar_fake::Calendar {
    let mut c = calendar_fake::Calendar {
        access_token: TOKEN.into(),
        ..Default::default()
    };
    for i in 0..FILES {
        c.put("primary", serde_json::json!({"id": format!("ev{i:05}"), "summary": format!("Meeting {i}"),
            "description": format!("Agenda item {} on the delta works", i % 29),
            "location": format!("Room {}", i % 13),
            "start": {"dateTime": "2026-03-13T09:00:00Z"}, "end": {"dateTime": "2026-03-13T10:00:00Z"},
            "attendees": [{"email": format!("guest{}@example.com", i % 41)}]}));
    }
    c
}

fn mailbox() -> gmail_fake::Mailbox {
    let mut m = gmail_fake::Mailbox {
        email: "bench@example.com".into(),
        access_token: TOKEN.into(),
        history_id: 1_000,
        ..Default::default()
    };
    let start = 1_767_225_600_000i64;
    for i in 0..FILES as i64 {
        let at = start + i * 60_000;
        let from = format!("Sender {} <s{}@example.com>", i % 37, i % 37);
        let subject = format!("Report {i} on the delta works");
        let payload = match i % 3 {
            0 => gmail_fake::plain(
                &from,
                &subject,
                at,
                &format!("Figures for region {}.", i % 11),
            ),
            1 => gmail_fake::alternative(&from, &subject, at, "Text part", "<p>HTML part</p>"),
            _ => gmail_fake::with_attachment(&from, &subject, at, "See attached.", "report.pdf"),
        };
        m.add(gmail_fake::Msg {
            id: format!("19d{at:013x}"),
            thread: format!("19d{at:013x}"),
            at,
            labels: vec!["INBOX".into()],
            from,
            subject,
            history: 0,
            payload,
        });
    }
    m
}

/// 3,000 messages in three channels, one in a hundred opening a thread of three replies.
fn workspace() -> slack_fake::Slack {
    let mut s = slack_fake::Slack {
        token: TOKEN.into(),
        ..Default::default()
    };
    s.users.insert(
        "U0BENCH01".into(),
        serde_json::json!({"id": "U0BENCH01", "name": "bench", "profile": {"display_name": "Bench"}}),
    );
    for c in 0..3 {
        s.channel(
            &format!("C0BENCH{c}"),
            &format!("bench-{c}"),
            serde_json::json!({}),
        );
    }
    for i in 0..FILES as u64 {
        let ch = format!("C0BENCH{}", i % 3);
        let ts = format!("{}.000100", 1_773_000_000 + i * 60);
        s.post(
            &ch,
            serde_json::json!({"ts": ts, "user": "U0BENCH01",
            "text": format!("Update {i} on gauge {} of the delta works", i % 17)}),
        );
        if i % 100 == 0 {
            for r in 1..=3u64 {
                s.post(
                    &ch,
                    serde_json::json!({"ts": format!("{}.000200", 1_773_000_000 + i * 60 + r),
                    "thread_ts": ts, "user": "U0BENCH01", "text": format!("Reply {r}")}),
                );
            }
        }
    }
    s
}

/// 3,000 messages in three channels of one guild the bench user and the bot share.
fn guild() -> discord_fake::Discord {
    let g = "1504364254634180618";
    let mut d = discord_fake::Discord {
        user_token: TOKEN.into(),
        user: serde_json::json!({"id": "1504300000000000001", "username": "bench", "global_name": "Bench"}),
        app_flags: 1 << 18,
        bucket: (50, std::time::Duration::from_secs(1)),
        bot_in: vec![g.into()],
        ..Default::default()
    };
    d.guilds.insert(
        g.into(),
        serde_json::json!({"id": g, "name": "Bench", "owner_id": "1",
        "roles": [{"id": g, "name": "@everyone", "permissions": "66560"}]}),
    );
    d.members.insert(
        g.into(),
        [("1504300000000000001".to_string(), vec![])]
            .into_iter()
            .collect(),
    );
    let author = serde_json::json!({"id": "1504300000000000001", "username": "bench"});
    let mut channels = Vec::new();
    for c in 0..3u64 {
        let id = (1504364254634180620 + c).to_string();
        channels.push(
            serde_json::json!({"id": id, "type": 0, "name": format!("bench-{c}"),
            "guild_id": g, "permission_overwrites": []}),
        );
        for i in 0..(FILES as u64 / 3) {
            let m = discord_fake::snowflake(1_777_593_600_000 + (c * 10_000 + i) * 1000, i);
            d.message(
                &id,
                m,
                &author,
                &format!("Update {i} on gauge {} of the delta works", i % 17),
                serde_json::json!({}),
            );
        }
    }
    d.channels.insert(g.into(), channels);
    d
}

/// One GitHub repository of 3,000 issues and pull requests, every tenth with a comment.
fn github() -> github_fake::GitHub {
    let mut g = github_fake::GitHub::new(TOKEN);
    let r = g.repo("rivers/levees");
    for n in 1..=FILES as u64 {
        r.issue(
            n,
            n % 4 == 0,
            &format!("Seepage report {n}"),
            "Observed near the marker.",
            "grace",
            n,
        );
        if n % 10 == 0 {
            r.comment(n, "ada", "Checked on the morning walk", n + 1);
        }
    }
    g
}

/// One GitLab project of 3,000 issues, every tenth with a note.
fn gitlab() -> gitlab_fake::GitLab {
    let mut g = gitlab_fake::GitLab::new(TOKEN);
    let p = g.project("rivers/dams");
    for iid in 1..=FILES as u64 {
        p.item("issues", iid, &format!("Spillway issue {iid}"), iid);
        if iid % 10 == 0 {
            p.note("issues", iid, "ada", "Gate tested", false, iid + 1);
        }
    }
    g
}

/// A full sync of `provider` against the fake API at `addr`: items/s.
async fn full_sync(
    provider: &str,
    addr: std::net::SocketAddr,
    requests: Option<&dyn Fn() -> (usize, usize)>,
) -> f64 {
    let s = common::serve_host(None, &[provider], true).await;
    let mut settings = common::base_override("https://www.googleapis.com", addr);
    for origin in [
        "https://gmail.googleapis.com",
        "https://slack.com",
        "https://discord.com",
    ] {
        settings
            .base_urls
            .insert(origin.into(), format!("http://{addr}"));
    }
    settings.base_urls.insert(
        "https://api.github.com".into(),
        format!("http://{addr}/api/v3"),
    );
    settings
        .base_urls
        .insert("https://gitlab.com".into(), format!("http://{addr}"));
    if matches!(provider, "github" | "gitlab") {
        // Host-bound, not budget-bound: GitHub's 5,000 requests an hour would make a
        // 3,000-issue walk take minutes (docs/benchmarks.md gives both).
        settings.rate_limits = Some(tributary::services::RateLimitOverride {
            requests_per_minute: 60_000,
            requests_per_day: None,
            concurrency: 4,
        });
    }
    s.state
        .runtime
        .services()
        .set_secret("discord", "bot_token", discord_fake::BOT_TOKEN);
    s.state
        .runtime
        .services()
        .set_settings(provider, settings)
        .await
        .unwrap();
    let db = s.state.db();
    let (user, _) = common::user_with_key(db, "bench@t.test", false).await;
    let row = common::oauth_integration(&s, &user, provider, &Map::new(), TOKEN).await;
    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    let t = Instant::now();
    let (job, outcome) = common::sync_once(&engine, db, &row, "full").await;
    assert_eq!(outcome, Outcome::Completed);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(job.resources_synced as usize, FILES, "{job:?}");
    if let Some(count) = requests {
        // A poll when nothing changed: what conditional requests save.
        let before = count();
        let (_, outcome) = common::sync_once(&engine, db, &row, "incremental").await;
        assert_eq!(outcome, Outcome::Completed);
        let (calls, not_modified) = count();
        println!(
            "<!-- {provider}: quiet incremental sync: {} requests, {} answered 304 -->",
            calls - before.0,
            not_modified - before.1
        );
    }
    FILES as f64 / secs
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("| provider | files | items/s (full sync, median of 3) |\n|---|---|---|");
    let median = |mut runs: Vec<f64>| {
        runs.sort_by(f64::total_cmp);
        runs[1]
    };
    // `TRIBUTARY_BENCH_ONLY=slack,discord` runs only those.
    let only = std::env::var("TRIBUTARY_BENCH_ONLY").ok();
    type Fake = Box<dyn Fn() -> axum::Router>;
    let fakes: Vec<(&str, Fake)> = vec![
        (
            "gdrive",
            Box::new(|| drive_fake::router(Arc::new(Mutex::new(drive())))),
        ),
        (
            "gcalendar",
            Box::new(|| calendar_fake::router(Arc::new(Mutex::new(calendar())))),
        ),
        (
            "gmail",
            Box::new(|| gmail_fake::router(Arc::new(Mutex::new(mailbox())))),
        ),
        (
            "slack",
            Box::new(|| slack_fake::router(Arc::new(Mutex::new(workspace())))),
        ),
        (
            "discord",
            Box::new(|| discord_fake::router(Arc::new(Mutex::new(guild())))),
        ),
        (
            "github",
            Box::new(|| github_fake::router(Arc::new(Mutex::new(github())))),
        ),
        (
            "gitlab",
            Box::new(|| gitlab_fake::router(Arc::new(Mutex::new(gitlab())))),
        ),
    ];
    for (provider, fake) in fakes {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|p| p == provider))
        {
            continue;
        }
        let rate = median(
            (0..3)
                .map(|_| {
                    rt.block_on(async {
                        let addr = common::serve(fake()).await;
                        full_sync(provider, addr, None).await
                    })
                })
                .collect(),
        );
        println!("| {provider} | {FILES} | {rate:.0} |");
    }
    // Requests a quiet poll makes, and how many GitHub and GitLab answer 304.
    if only.as_deref().is_none_or(|o| o.contains("github")) {
        let g = Arc::new(Mutex::new(github()));
        let count = || {
            let g = g.lock().unwrap();
            (g.calls.len(), g.not_modified)
        };
        rt.block_on(async {
            let addr = common::serve(github_fake::router(g.clone())).await;
            full_sync("github", addr, Some(&count)).await
        });
    }
    if only.as_deref().is_none_or(|o| o.contains("gitlab")) {
        let g = Arc::new(Mutex::new(gitlab()));
        let count = || {
            let g = g.lock().unwrap();
            (g.calls.len(), g.not_modified)
        };
        rt.block_on(async {
            let addr = common::serve(gitlab_fake::router(g.clone())).await;
            full_sync("gitlab", addr, Some(&count)).await
        });
    }
}
