//! The walk: channel by channel, `conversations.history` newest first. A message with
//! replies is listed as a reference to its thread (fetched whole with
//! `conversations.replies` only when its latest reply or edit changed); a message without
//! replies carries its content. Incremental walks start each channel after its checkpoint
//! (`oldest`, exclusive), kept by [`tributary_sdk::checkpoint`].

use serde::{Deserialize, Serialize};
use tributary_sdk::chat::headline;
use tributary_sdk::checkpoint;
use tributary_sdk::prelude::*;

use crate::Slack;
use crate::api::{self, ts_after, ts_millis};
use crate::channels::{self, Channel, Selection};
use crate::render::{self, SlackMessage};

/// Slack asks for pages of at most 200 history messages.
const MAX_PAGE: u32 = 200;

/// Where a walk is.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// This walk's id: its checkpoint key and, at the end, its sync token.
    walk: String,
    ch: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<String>,
}

impl Slack {
    /// One page of the walk.
    pub(crate) fn page(&mut self, config: &Config, req: &ListRequest) -> Result<Page, Error> {
        let sel = Selection::from_config(config);
        let incremental = req.mode == ListMode::Incremental;
        let previous = if incremental {
            checkpoint::previous(req.sync_token.as_deref())?
        } else {
            Default::default()
        };
        let mut cursor = match &req.cursor {
            Some(c) => serde_json::from_str(c)
                .map_err(|e| Error::invalid_input(format!("bad cursor: {e}")))?,
            None => Cursor {
                walk: checkpoint::start(req.sync_token.as_deref())?,
                ch: 0,
                page: None,
                newest: None,
            },
        };
        if self.channels.is_none() {
            self.channels = Some(channels::list(&sel)?);
        }
        let chans = self.channels.clone().unwrap_or_default();
        let Some(ch) = chans.get(cursor.ch) else {
            return Ok(finish(&cursor));
        };
        let size = req.page_size.clamp(1, MAX_PAGE).to_string();
        let mut query = vec![("channel", ch.id.as_str()), ("limit", size.as_str())];
        if let Some(oldest) = previous.get(&ch.id) {
            query.push(("oldest", oldest));
        }
        if let Some(p) = &cursor.page {
            query.push(("cursor", p));
        }
        let body = match api::call("conversations.history", &query) {
            Ok(b) => b,
            // Left or deleted since the list: nothing of it is synced.
            Err(Error::NotFound(why)) => {
                log::warn(&format!("skipping channel {}: {why}", ch.id));
                cursor.ch += 1;
                cursor.page = None;
                cursor.newest = None;
                return self.after(cursor, &chans, Vec::new());
            }
            Err(e) => return Err(e),
        };
        let messages: Vec<SlackMessage> =
            serde_json::from_value(body["messages"].clone()).map_err(Error::from)?;
        let mut resources = Vec::with_capacity(messages.len());
        for m in &messages {
            if cursor.newest.as_deref().is_none_or(|n| ts_after(&m.ts, n)) {
                cursor.newest = Some(m.ts.clone());
            }
            if let Some(r) = self.resource(ch, m)? {
                resources.push(r);
            }
        }
        let more = body["has_more"].as_bool().unwrap_or(false);
        match api::next_cursor(&body).filter(|_| more) {
            Some(next) => cursor.page = Some(next),
            None => {
                let mut done = cursor.newest.take();
                if let Some(old) = previous.get(&ch.id)
                    && done.as_deref().is_none_or(|d| ts_after(old, d))
                {
                    done = Some(old.clone());
                }
                if let Some(ts) = done {
                    self.checkpoints.set(&cursor.walk, &ch.id, &ts)?;
                }
                cursor.ch += 1;
                cursor.page = None;
            }
        }
        self.after(cursor, &chans, resources)
    }

    fn after(
        &self,
        cursor: Cursor,
        chans: &[Channel],
        resources: Vec<Resource>,
    ) -> Result<Page, Error> {
        if cursor.ch >= chans.len() {
            let mut page = finish(&cursor);
            page.resources = resources;
            return Ok(page);
        }
        let next = serde_json::to_string(&cursor).map_err(|e| Error::other(e.to_string()))?;
        Ok(Page::more(resources, next))
    }

    /// The resource a history message stands for, if any.
    fn resource(&mut self, ch: &Channel, m: &SlackMessage) -> Result<Option<Resource>, Error> {
        let sub = m.subtype.as_deref();
        // A broadcast reply belongs to its thread, which is listed by its opener.
        if render::is_noise(sub) || sub == Some("thread_broadcast") || m.root() != m.ts {
            return Ok(None);
        }
        let id = format!("{}/{}", ch.id, m.ts);
        let heading = ch.heading(&mut self.names)?;
        let link = self.permalink(&ch.id, &m.ts)?;
        if m.is_thread_parent() {
            let text = render::plain(&m.text, &mut self.names)?;
            let title = format!("{heading}: {}", headline(&text, 80));
            let latest = m.latest_reply.clone().unwrap_or_else(|| m.ts.clone());
            let edited = m.edited.as_ref().map(|e| e.ts.as_str()).unwrap_or("");
            let version = format!("{latest}|{}|{edited}", m.reply_count.unwrap_or(0));
            let mut r = Resource::reference(&id, "thread", &title, Some(version));
            r.modified_at = ts_millis(&latest);
            r.parent_id = Some(ch.id.clone());
            r.url = link;
            return Ok(Some(r));
        }
        let content = self.content(ch, &id, std::slice::from_ref(m), link)?;
        let mut r = Resource::with_content(content);
        r.parent_id = Some(ch.id.clone());
        Ok(Some(r))
    }
}

fn finish(cursor: &Cursor) -> Page {
    let mut page = Page::last(Vec::new());
    page.sync_token = Some(cursor.walk.clone());
    page
}
