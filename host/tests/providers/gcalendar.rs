//! The Google Calendar plugin (the real `.wasm`) against the fake Calendar: two calendars
//! walked with their own sync tokens (through empty pages), recurring and cancelled
//! events, incremental changes, an expired sync token, rate limits, channels per calendar,
//! and the whole host from sync to search.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tributary::credentials::{Credential, Kind};
use tributary::model::{Body, ListMode, ListRequest, PluginError};
use tributary::runtime::{CallError, Integration, Limits, Session};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use crate::calendar_fake::{self, Calendar};
use crate::common::*;
use crate::gdrive::walk;

const TOKEN: &str = "ya29.calendar";
const TEAM: &str = "team.rivers@group.calendar.google.com";

fn ev(id: &str, summary: &str, extra: Value) -> Value {
    let mut e = json!({"id": id, "summary": summary,
        "start": {"dateTime": "2026-03-13T09:00:00Z"}, "end": {"dateTime": "2026-03-13T10:00:00Z"},
        "organizer": {"email": "ada@example.com", "self": true}, "created": "2026-01-01T00:00:00.000Z"});
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

/// 520 live events: 400 in the primary calendar (a weekly series with two exceptions,
/// meetings with attendees and places, all-day events), 120 in a team calendar; and 6
/// cancelled ones, which a full listing leaves out.
pub fn fixture() -> Calendar {
    let mut c = Calendar {
        access_token: TOKEN.into(),
        ..Default::default()
    };
    c.put("primary", ev("series01", "Weekly delta sync", json!({
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"],
        "attendees": [{"email": "grace@example.com", "displayName": "Grace Hopper", "responseStatus": "accepted"}]})));
    for (i, when) in ["20260316T090000Z", "20260323T090000Z"].iter().enumerate() {
        c.put(
            "primary",
            ev(
                &format!("series01_{when}"),
                "Weekly delta sync (moved)",
                json!({"recurringEventId": "series01", "location": format!("Room {i}")}),
            ),
        );
    }
    for i in 0..397 {
        let extra = match i % 3 {
            0 => json!({"location": format!("Boathouse {i}"),
                "attendees": [{"email": format!("guest{i}@example.com"), "displayName": format!("Guest {i}")}]}),
            1 => json!({"description": format!("Agenda {i}: levees and sluice gates"),
                "start": {"date": "2026-04-01"}, "end": {"date": "2026-04-02"}}),
            _ => json!({}),
        };
        c.put(
            "primary",
            ev(&format!("evp{i:04}"), &format!("Meeting {i}"), extra),
        );
    }
    for i in 0..120 {
        c.put(
            TEAM,
            ev(
                &format!("evt{i:04}"),
                &format!("Team standup {i}"),
                json!({}),
            ),
        );
    }
    for i in 0..6 {
        c.put(
            "primary",
            ev(
                &format!("gone{i}"),
                "Cancelled",
                json!({"status": "cancelled"}),
            ),
        );
    }
    c
}

struct Fake {
    cal: Arc<Mutex<Calendar>>,
    t: TestHost,
}

async fn setup() -> Fake {
    let cal = Arc::new(Mutex::new(fixture()));
    let addr = serve(calendar_fake::router(cal.clone())).await;
    let t = host(None, &["gcalendar"], Limits::default(), true).await;
    let settings = base_override("https://www.googleapis.com", addr);
    t.runtime
        .services()
        .set_settings("gcalendar", settings)
        .await
        .unwrap();
    let credential = Credential {
        kind: Kind::Oauth2,
        secret: TOKEN.into(),
        username: None,
        scopes: vec![],
        expires_at: None,
    };
    t.credentials.set("gc-1", credential);
    Fake { cal, t }
}

impl Fake {
    async fn session(&self) -> Session {
        let config = vec![("calendars".to_string(), format!("primary,{TEAM}"))];
        self.t
            .runtime
            .session("gcalendar", Some(Integration::new("gc-1", config)))
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_calendars_walk_in_full_then_by_sync_token() {
    let fake = setup().await;
    let mut s = fake.session().await;
    let account = s.check().await.unwrap();
    assert_eq!(account.id, "ada@example.com");

    let pages = walk(&mut s, ListMode::Full, None).await;
    let all: Vec<_> = pages.iter().flat_map(|p| p.resources.iter()).collect();
    assert_eq!(all.len(), 520, "live events of both calendars");
    assert!(
        pages
            .iter()
            .any(|p| p.resources.is_empty() && p.next_cursor.is_some()),
        "empty pages were followed"
    );
    let text = |id: &str| match &all
        .iter()
        .find(|r| r.id == id)
        .unwrap()
        .content
        .as_ref()
        .unwrap()
        .body
    {
        Body::Text(t) => t.clone(),
        other => panic!("{other:?}"),
    };
    let series = text("series01@primary");
    assert!(
        series.contains("RRULE:FREQ=WEEKLY;BYDAY=MO")
            && series.contains("Grace Hopper <grace@example.com>"),
        "{series}"
    );
    assert!(text("evp0000@primary").contains("Where: Boathouse 0"));
    assert!(text("evp0001@primary").contains("When: 2026-04-01 to 2026-04-02"));
    assert!(all.iter().any(|r| r.id == format!("evt0007@{TEAM}")));
    assert!(
        !all.iter().any(|r| r.id.starts_with("gone")),
        "cancelled events are not listed in full"
    );
    let token: Value =
        serde_json::from_str(pages.last().unwrap().sync_token.as_ref().unwrap()).unwrap();
    assert!(
        token["primary"].is_string() && token[TEAM].is_string(),
        "{token}"
    );

    {
        let mut c = fake.cal.lock().unwrap();
        c.put(
            "primary",
            ev("evp0005", "Meeting 5, now about floodplains", json!({})),
        );
        c.cancel("primary", "evp0006");
        c.cancel(TEAM, "evt0001");
        c.put(TEAM, ev("evtnew", "Offsite", json!({})));
    }
    let token = pages.last().unwrap().sync_token.clone();
    let pages = walk(&mut s, ListMode::Incremental, token).await;
    let mut ids: Vec<_> = pages
        .iter()
        .flat_map(|p| p.resources.iter().map(|r| r.id.clone()))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec!["evp0005@primary".to_string(), format!("evtnew@{TEAM}")]
    );
    let mut deleted: Vec<_> = pages.iter().flat_map(|p| p.deleted.clone()).collect();
    deleted.sort();
    assert_eq!(
        deleted,
        vec!["evp0006@primary".to_string(), format!("evt0001@{TEAM}")]
    );
    let fetched = s.fetch("evp0005@primary").await.unwrap();
    assert_eq!(fetched.title, "Meeting 5, now about floodplains");

    // A sync token Calendar no longer honours: 410 fullSyncRequired, not-found to the host.
    fake.cal.lock().unwrap().oldest_sync = u64::MAX;
    let req = ListRequest {
        mode: ListMode::Incremental,
        cursor: None,
        sync_token: pages.last().unwrap().sync_token.clone(),
        modified_after: None,
        page_size: 100,
    };
    let err = s.list(&req).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::NotFound(m)) if m.contains("full walk")),
        "{err:?}"
    );

    // 403 rateLimitExceeded is a rate limit.
    fake.cal.lock().unwrap().rate_limit_next = 1;
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(_))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_each_calendar_gets_a_channel_and_all_stop() {
    let fake = setup().await;
    let mut s = fake.session().await;
    let sub = s
        .subscribe(
            "https://t.example/api/webhooks/integrations/gcalendar/gc-1",
            "cal-secret",
        )
        .await
        .unwrap();
    let channels = fake.cal.lock().unwrap().channels.clone();
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[1]["calendar"], TEAM);
    assert_eq!(channels[0]["request"]["token"], "cal-secret");
    assert_eq!(channels[0]["request"]["params"]["ttl"], "604800");
    assert_eq!(
        sub.expires_at,
        Some(1_800_000_000_000),
        "the earlier of the two"
    );
    assert_eq!(sub.resource.as_deref(), Some("res-0,res-1"));

    s.unsubscribe(&sub).await.unwrap();
    let stopped = fake.cal.lock().unwrap().stopped.clone();
    assert_eq!(stopped.len(), 2);
    assert_eq!(stopped[1]["resourceId"], "res-1");
    assert_eq!(stopped[1]["id"], channels[1]["request"]["id"]);
}

/// The fake Calendar and a whole host whose Calendar calls reach it.
async fn served() -> (Arc<Mutex<Calendar>>, Served) {
    let cal = Arc::new(Mutex::new(fixture()));
    let addr = serve(calendar_fake::router(cal.clone())).await;
    let s = serve_host(None, &["gcalendar"], true).await;
    let settings = base_override("https://www.googleapis.com", addr);
    s.state
        .runtime
        .services()
        .set_settings("gcalendar", settings)
        .await
        .unwrap();
    (cal, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_calendar_syncs_into_search_and_resyncs_after_410() {
    let (cal, s) = served().await;
    let db = s.state.db();
    let (user, key) = user_with_key(db, "ada@t.test", false).await;
    let mut config = Map::new();
    config.insert("calendars".into(), json!(format!("primary,{TEAM}")));
    let row = oauth_integration(&s, &user, "gcalendar", &config, TOKEN).await;
    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    let sync = async |mode: &str| {
        let (job, outcome) = sync_once(&engine, db, &row, mode).await;
        assert_eq!(outcome, Outcome::Completed, "{job:?}");
        job
    };
    sync("full").await;
    assert_eq!(held(db, &row.id).await.len(), 520);
    let found = search(&s.base, &key, "Grace Hopper").await;
    assert_eq!(
        found["results"][0]["external_id"], "series01@primary",
        "{found}"
    );

    {
        let mut c = cal.lock().unwrap();
        c.cancel("primary", "evp0010");
        c.oldest_sync = u64::MAX;
    }
    let job = sync("incremental").await;
    assert_eq!(job.mode, "full", "410 turned the walk full: {job:?}");
    let held_now = held(db, &row.id).await;
    assert_eq!(held_now.len(), 519);
    assert!(!held_now.contains(&"evp0010@primary".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_metadata_only_events_are_found_without_keeping_text() {
    let (_cal, s) = served().await;
    let db = s.state.db();
    let (user, key) = user_with_key(db, "ada@t.test", false).await;
    let row = oauth_integration(&s, &user, "gcalendar", &Map::new(), TOKEN).await;
    db.update_integration_settings(&row.id, &row.config, "METADATA_ONLY", &row.sync_frequency)
        .await
        .unwrap();
    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    let (job, outcome) = sync_once(&engine, db, &row, "full").await;
    assert_eq!(outcome, Outcome::Completed, "{job:?}");
    let found = search(&s.base, &key, "Grace Hopper").await;
    assert_eq!(
        found["results"][0]["external_id"], "series01@primary",
        "{found}"
    );
    assert_eq!(found["results"][0]["snippet"], "", "no text kept: {found}");
}
