//! The walk, as streams in a fixed order: per allowed guild, per readable channel, its
//! messages (text and announcement channels) and then its threads (also forum and media
//! channels, whose posts are threads). Messages page back with `before` on full walks
//! and forward with `after` from the channel's checkpoint (the newest id of the last
//! walk) on incremental ones. A thread is listed as a reference whose version is its
//! last message id and count, and fetched whole only when that changed.

use serde::{Deserialize, Serialize};
use tributary_sdk::checkpoint;
use tributary_sdk::prelude::*;

use crate::Discord;
use crate::guilds::Chan;
use crate::render::DiscordMessage;
use crate::rest::{As, later, snowflake_millis};

/// Discord's largest page.
const MAX_PAGE: u32 = 100;

/// What one stream walks.
#[derive(Clone, Debug, PartialEq)]
pub enum Stream {
    Messages { guild: String, channel: String },
    Threads { guild: String, channel: String },
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    walk: String,
    s: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    anchor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<String>,
}

impl Discord {
    /// Every stream of the allowed guilds.
    fn streams(&mut self, config: &Config) -> Result<Vec<Stream>, Error> {
        let mut out = Vec::new();
        for g in self.allowed(config)? {
            let guild = self.guild(&g)?;
            for c in &guild.readable {
                let (guild, channel) = (g.clone(), c.id.clone());
                if c.has_messages() {
                    out.push(Stream::Messages {
                        guild: guild.clone(),
                        channel: channel.clone(),
                    });
                }
                if c.has_threads() {
                    out.push(Stream::Threads { guild, channel });
                }
            }
        }
        Ok(out)
    }

    /// One page of the walk.
    pub(crate) fn page(&mut self, config: &Config, req: &ListRequest) -> Result<Page, Error> {
        let incremental = req.mode == ListMode::Incremental;
        let previous = if incremental {
            checkpoint::previous(req.sync_token.as_deref())?
        } else {
            Default::default()
        };
        let mut cursor: Cursor = match &req.cursor {
            Some(c) => serde_json::from_str(c)
                .map_err(|e| Error::invalid_input(format!("bad cursor: {e}")))?,
            None => Cursor {
                walk: checkpoint::start(req.sync_token.as_deref())?,
                s: 0,
                anchor: None,
                newest: None,
            },
        };
        let streams = self.streams(config)?;
        let size = req.page_size.clamp(1, MAX_PAGE);
        let (resources, done) = match streams.get(cursor.s) {
            None => (Vec::new(), true),
            Some(Stream::Messages { guild, channel }) => {
                let from = previous.get(channel).cloned();
                self.messages(guild, channel, from, size, &mut cursor)?
            }
            Some(Stream::Threads { guild, channel }) => {
                self.threads(guild, channel, size, &mut cursor)?
            }
        };
        if done && cursor.s < streams.len() {
            if let Some(Stream::Messages { channel, .. }) = streams.get(cursor.s) {
                let mut mark = cursor.newest.take();
                if let Some(old) = previous.get(channel)
                    && mark.as_deref().is_none_or(|m| later(old, m))
                {
                    mark = Some(old.clone());
                }
                if let Some(m) = mark {
                    self.marks.set(&cursor.walk, channel, &m)?;
                }
            }
            cursor.s += 1;
            cursor.anchor = None;
            cursor.newest = None;
        }
        if cursor.s >= streams.len() {
            let mut page = Page::last(resources);
            page.sync_token = Some(cursor.walk);
            return Ok(page);
        }
        let next = serde_json::to_string(&cursor).map_err(|e| Error::other(e.to_string()))?;
        Ok(Page::more(resources, next))
    }

    /// A page of a channel's messages; whether the channel is done.
    fn messages(
        &mut self,
        guild: &str,
        channel: &str,
        from: Option<String>,
        size: u32,
        cursor: &mut Cursor,
    ) -> Result<(Vec<Resource>, bool), Error> {
        // Forward from the checkpoint when there is one, else back from the newest.
        let forward = from.is_some();
        let anchor = cursor.anchor.clone().or(from);
        let path = match (&anchor, forward) {
            (Some(a), true) => format!("channels/{channel}/messages?limit={size}&after={a}"),
            (Some(a), false) => format!("channels/{channel}/messages?limit={size}&before={a}"),
            (None, _) => format!("channels/{channel}/messages?limit={size}"),
        };
        let batch: Vec<DiscordMessage> = match self.rest.get(As::Bot, &path) {
            Ok(v) => serde_json::from_value(v)?,
            // Gone or closed to the bot since the channel list: nothing more here.
            Err(Error::NotFound(why) | Error::Forbidden(why)) => {
                log::warn(&format!("skipping channel {channel}: {why}"));
                return Ok((Vec::new(), true));
            }
            Err(e) => return Err(e),
        };
        let ids = batch.iter().map(|m| m.id.as_str());
        let max = ids.clone().max_by_key(|i| i.parse::<u64>().unwrap_or(0));
        let min = ids.min_by_key(|i| i.parse::<u64>().unwrap_or(0));
        if let Some(m) = max
            && cursor.newest.as_deref().is_none_or(|n| later(m, n))
        {
            cursor.newest = Some(m.to_string());
        }
        // `after` pages move on from the newest id, `before` pages from the oldest.
        cursor.anchor = if forward { max } else { min }.map(str::to_string);
        let mut out = Vec::with_capacity(batch.len());
        for m in batch.iter().filter(|m| m.is_conversation()) {
            out.push(Resource::with_content(
                self.message_content(guild, channel, m)?,
            ));
        }
        Ok((out, batch.len() < size as usize))
    }

    /// A page of a channel's threads (active ones first, then archived public ones).
    fn threads(
        &mut self,
        guild: &str,
        channel: &str,
        size: u32,
        cursor: &mut Cursor,
    ) -> Result<(Vec<Resource>, bool), Error> {
        let mut list: Vec<Chan> = Vec::new();
        if cursor.anchor.is_none() {
            let g = self.guild(guild)?;
            list.extend(
                g.active_threads
                    .iter()
                    .filter(|t| t.parent_id.as_deref() == Some(channel))
                    .cloned(),
            );
        }
        let mut path = format!("channels/{channel}/threads/archived/public?limit={size}");
        if let Some(a) = &cursor.anchor {
            path.push_str(&format!("&before={}", tributary_sdk::url::encode(a)));
        }
        let (archived, more) = match self.rest.get(As::Bot, &path) {
            Ok(v) => (
                serde_json::from_value::<Vec<Chan>>(v["threads"].clone())?,
                v["has_more"].as_bool().unwrap_or(false),
            ),
            Err(Error::NotFound(why) | Error::Forbidden(why)) => {
                log::warn(&format!("no archived threads of {channel}: {why}"));
                (Vec::new(), false)
            }
            Err(e) => return Err(e),
        };
        cursor.anchor = archived
            .last()
            .and_then(|t| t.thread_metadata.as_ref())
            .and_then(|m| m["archive_timestamp"].as_str())
            .map(str::to_string);
        list.extend(archived.into_iter().filter(|t| t.kind != 12));
        let parent = self.guild(guild)?.channel(channel).cloned();
        let parent_name = parent.as_ref().map_or(channel, |p| p.label()).to_string();
        let out = list
            .iter()
            .map(|t| {
                let last = t.last_message_id.clone().unwrap_or_else(|| t.id.clone());
                let version = format!("{last}|{}", t.message_count.unwrap_or(0));
                let title = format!("#{parent_name} › {}", t.label());
                let mut r = Resource::reference(
                    &format!("t/{guild}/{}", t.id),
                    "thread",
                    &title,
                    Some(version),
                );
                r.modified_at = snowflake_millis(&last);
                r.parent_id = Some(channel.to_string());
                r.url = Some(format!("https://discord.com/channels/{guild}/{}", t.id));
                r
            })
            .collect();
        Ok((out, !more || cursor.anchor.is_none()))
    }
}
