//! Calendar v3 events, with the reference's field names, as indexed content: summary,
//! description, location, times, attendees, organizer and recurrence in the text, so a
//! search for a person or a place finds the meeting.

use serde::Deserialize;
use tributary_sdk::prelude::*;

/// An event (`calendar#event`), as far as the plugin reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Event id (unique within its calendar).
    pub id: String,
    /// `confirmed`, `tentative` or `cancelled` (deleted, in incremental answers).
    #[serde(default)]
    pub status: String,
    /// Changes with every change of the event.
    pub etag: Option<String>,
    /// Link to the event in Google Calendar.
    pub html_link: Option<String>,
    /// RFC 3339.
    pub created: Option<String>,
    /// RFC 3339.
    pub updated: Option<String>,
    /// Title.
    pub summary: Option<String>,
    /// Description (may hold HTML).
    pub description: Option<String>,
    /// Where.
    pub location: Option<String>,
    /// Start.
    pub start: Option<When>,
    /// End.
    pub end: Option<When>,
    /// RRULE/EXRULE/RDATE/EXDATE lines of a recurring event.
    #[serde(default)]
    pub recurrence: Vec<String>,
    /// Set on the exceptions of a recurring event.
    pub recurring_event_id: Option<String>,
    /// Who organizes it.
    pub organizer: Option<Person>,
    /// Who is invited.
    #[serde(default)]
    pub attendees: Vec<Person>,
}

/// A start or end: `dateTime` for timed events, `date` for all-day ones.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct When {
    /// RFC 3339.
    pub date_time: Option<String>,
    /// `yyyy-mm-dd`.
    pub date: Option<String>,
}

impl When {
    fn text(&self) -> &str {
        self.date_time
            .as_deref()
            .or(self.date.as_deref())
            .unwrap_or("")
    }
}

/// An organizer or attendee.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// Address.
    pub email: Option<String>,
    /// Name, when Google knows it.
    pub display_name: Option<String>,
    /// `needsAction`, `declined`, `tentative`, `accepted`.
    pub response_status: Option<String>,
}

impl Person {
    fn label(&self) -> String {
        match (&self.display_name, &self.email) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (Some(n), None) => n.clone(),
            (None, Some(e)) => e.clone(),
            (None, None) => String::new(),
        }
    }
}

/// The resource id of an event: event ids are unique per calendar and never hold `@`,
/// calendar ids often do, so the event id comes first.
pub fn resource_id(calendar: &str, event: &str) -> String {
    format!("{event}@{calendar}")
}

/// The calendar and event of a resource id.
pub fn split_id(id: &str) -> Option<(&str, &str)> {
    let (event, calendar) = id.split_once('@')?;
    Some((calendar, event))
}

/// An event as content.
pub fn content(calendar: &str, e: &Event) -> Content {
    let title = e.summary.clone().unwrap_or_else(|| "(no title)".into());
    let mut text = vec![title.clone()];
    if let (Some(s), Some(end)) = (&e.start, &e.end) {
        text.push(format!("When: {} to {}", s.text(), end.text()));
    }
    if let Some(l) = &e.location {
        text.push(format!("Where: {l}"));
    }
    if let Some(o) = &e.organizer {
        text.push(format!("Organizer: {}", o.label()));
    }
    if !e.attendees.is_empty() {
        let who: Vec<String> = e.attendees.iter().map(Person::label).collect();
        text.push(format!("Attendees: {}", who.join(", ")));
    }
    if !e.recurrence.is_empty() {
        text.push(format!("Repeats: {}", e.recurrence.join("; ")));
    }
    if let Some(d) = &e.description {
        text.push(String::new());
        text.push(d.clone());
    }
    let id = resource_id(calendar, &e.id);
    let mut c = Content::text(&id, "event", &title, &text.join("\n")).with_times(
        e.created.as_deref().and_then(time::parse_millis),
        e.updated.as_deref().and_then(time::parse_millis),
    );
    if let Some(link) = &e.html_link {
        c = c.with_url(link.clone());
    }
    if let Some(o) = &e.organizer {
        c = c.with_author(o.label(), o.email.clone());
    }
    c = c.with_meta("calendar_id", calendar);
    if let Some(s) = &e.start {
        c = c.with_meta("start", s.text());
    }
    if let Some(r) = &e.recurring_event_id {
        c = c.with_meta("recurring_event_id", r.clone());
    }
    c
}
