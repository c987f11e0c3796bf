//! Google Calendar provider: the events of the calendars an integration names (the
//! user's primary calendar by default), recurring series as one event with their rules,
//! exceptions as their own events, cancelled ones as deletions. Each calendar keeps its
//! own `nextSyncToken`; the walk's sync token holds them all. A `410 fullSyncRequired` is
//! reported as `not-found`, which the host answers with a full walk. Push is one
//! `events.watch` channel per calendar.

mod event;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tributary_google::{GoogleError, channel, check};
use tributary_sdk::prelude::*;
use tributary_sdk::{FieldKind, url};

pub use event::{Event, content, resource_id, split_id};

/// The API root.
pub const API: &str = "https://www.googleapis.com/calendar/v3";
/// Calendar's largest page.
const MAX_PAGE: u32 = 2500;
/// How long a push channel is asked to live, in seconds (`params.ttl`).
const CHANNEL_TTL_S: u64 = 7 * 24 * 3600;

/// The provider. An instance lives for one job.
#[derive(Default)]
pub struct Gcalendar;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Events {
    #[serde(default)]
    items: Vec<Event>,
    next_page_token: Option<String>,
    next_sync_token: Option<String>,
}

/// Where a walk is: the calendar in progress, its page token, the sync tokens so far.
#[derive(Default, Serialize, Deserialize)]
struct Cursor {
    cal: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    #[serde(default)]
    tokens: BTreeMap<String, String>,
}

/// The calendars the integration syncs.
fn calendars(config: &Config) -> Vec<String> {
    let list: Vec<String> = config
        .get("calendars")
        .unwrap_or("primary")
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if list.is_empty() {
        vec!["primary".into()]
    } else {
        list
    }
}

fn events_url(calendar: &str, query: &[(&str, &str)]) -> String {
    url::build(API, &["calendars", calendar, "events"], query)
}

impl Gcalendar {
    fn page(&self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        let cals = calendars(config);
        let incremental = req.mode == ListMode::Incremental;
        let mut cursor: Cursor = match &req.cursor {
            Some(c) => serde_json::from_str(c)
                .map_err(|e| Error::invalid_input(format!("bad cursor: {e}")))?,
            None => Cursor::default(),
        };
        let previous: BTreeMap<String, String> = match (incremental, &req.sync_token) {
            (true, Some(t)) => serde_json::from_str(t).map_err(|_| {
                Error::not_found("the sync token is not this plugin's: a full walk is needed")
            })?,
            (true, None) => return Err(Error::not_found("no sync token: a full walk is needed")),
            (false, _) => BTreeMap::new(),
        };
        let Some(cal) = cals.get(cursor.cal) else {
            return Err(Error::invalid_input(
                "the cursor names a calendar past the list",
            ));
        };
        let size = req.page_size.clamp(1, MAX_PAGE).to_string();
        let mut query = vec![("maxResults", size.as_str())];
        if incremental {
            let token = previous.get(cal).ok_or_else(|| {
                Error::not_found(format!(
                    "calendar {cal} has no sync token yet: a full walk is needed"
                ))
            })?;
            query.push(("syncToken", token));
        }
        if let Some(p) = &cursor.page {
            query.push(("pageToken", p));
        }
        let resp = http::Request::get(events_url(cal, &query))
            .authenticated()
            .send()?;
        if resp.status() == 410 {
            let e = GoogleError::parse(410, resp.bytes());
            if e.is_resync() || incremental {
                return Err(Error::not_found(format!(
                    "Calendar refused the sync token ({}): a full walk is needed",
                    e.message
                )));
            }
        }
        let events: Events = check(resp)?.json()?;
        let mut page = Page::last(Vec::new());
        for e in &events.items {
            if e.status == "cancelled" {
                page.deleted.push(resource_id(cal, &e.id));
            } else {
                let c = content(cal, e);
                let mut r = Resource::with_content(c);
                r.version = e.etag.clone().or(r.version);
                page.resources.push(r);
            }
        }
        match (events.next_page_token, events.next_sync_token) {
            (Some(next), _) => cursor.page = Some(next),
            (None, Some(token)) => {
                cursor.tokens.insert(cal.clone(), token);
                cursor.cal += 1;
                cursor.page = None;
            }
            (None, None) => {
                return Err(Error::other(format!(
                    "calendar {cal}: the last page had no nextSyncToken"
                )));
            }
        }
        if cursor.cal >= cals.len() {
            page.sync_token = Some(
                serde_json::to_string(&cursor.tokens).map_err(|e| Error::other(e.to_string()))?,
            );
        } else {
            page.next_cursor =
                Some(serde_json::to_string(&cursor).map_err(|e| Error::other(e.to_string()))?);
        }
        Ok(page)
    }
}

impl Provider for Gcalendar {
    fn manifest() -> Manifest {
        tributary_google::manifest("gcalendar", "Google Calendar", "calendar.readonly")
            .description("Events of your Google calendars: titles, times, places, people and notes")
            .category(Category::Productivity)
            .version(env!("CARGO_PKG_VERSION"))
            // The host's budget is per provider, so per Google Cloud project; Calendar's
            // per-user limits come back as 403 userRateLimitExceeded or 429 and are
            // rate limits the host backs off on.
            .rate_limits(6_000, None, 4)
            .field(
                "calendars",
                "Calendar ids, comma-separated (default: primary)",
                FieldKind::Text,
                false,
            )
            .build()
    }

    fn check(&mut self, _config: &Config) -> Result<Account, Error> {
        #[derive(Deserialize)]
        struct Calendar {
            id: String,
            #[serde(default)]
            summary: String,
        }
        let href = url::build(API, &["calendars", "primary"], &[]);
        let c: Calendar = check(http::Request::get(href).authenticated().send()?)?.json()?;
        Ok(Account {
            email: c.id.contains('@').then(|| c.id.clone()),
            name: c.summary,
            id: c.id,
        })
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        self.page(config, req)
    }

    fn fetch(&mut self, _config: &Config, id: &str) -> Result<Content, Error> {
        let (cal, ev) = split_id(id)
            .ok_or_else(|| Error::invalid_input(format!("{id:?} is not an event id")))?;
        let href = url::build(API, &["calendars", cal, "events", ev], &[]);
        let e: Event = check(http::Request::get(href).authenticated().send()?)?.json()?;
        if e.status == "cancelled" {
            return Err(Error::not_found(format!("event {ev} was cancelled")));
        }
        Ok(content(cal, &e))
    }

    fn webhook(&mut self, _config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        Ok(channel::notification(&req))
    }

    fn subscribe(
        &mut self,
        config: &Config,
        callback_url: &str,
        secret: &str,
    ) -> Result<Subscription, Error> {
        let now = time::now_millis();
        let (mut ids, mut resources, mut expires) = (Vec::new(), Vec::new(), None::<i64>);
        for (i, cal) in calendars(config).iter().enumerate() {
            let id = channel::new_id(secret, &format!("{now}/{i}"));
            let mut body = channel::watch_body(&id, callback_url, secret, None);
            body["params"] = json!({ "ttl": CHANNEL_TTL_S.to_string() });
            let href = url::build(API, &["calendars", cal, "events", "watch"], &[]);
            let resp = check(
                http::Request::post(href)
                    .json(&body)
                    .authenticated()
                    .send()?,
            )?;
            let sub = channel::parse_channel(resp.bytes())?;
            ids.push(sub.id);
            resources.push(sub.resource.unwrap_or_default());
            expires = match (expires, sub.expires_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        // One subscription per integration: its channels, joined (ids hold no comma).
        Ok(Subscription {
            id: ids.join(","),
            expires_at: expires,
            resource: Some(resources.join(",")),
        })
    }

    fn unsubscribe(&mut self, _config: &Config, subscription: &Subscription) -> Result<(), Error> {
        let resources: Vec<&str> = subscription
            .resource
            .as_deref()
            .unwrap_or("")
            .split(',')
            .collect();
        for (i, id) in subscription.id.split(',').enumerate() {
            let one = Subscription {
                id: id.to_string(),
                expires_at: None,
                resource: resources.get(i).map(|r| r.to_string()),
            };
            channel::stop(API, &one)?;
        }
        Ok(())
    }
}

tributary_sdk::export!(Gcalendar);
