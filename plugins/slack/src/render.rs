//! Slack messages as text people read: user ids resolved to names (cached in kv for a
//! day, so webhook jobs do not ask again), Slack's `<…>` markup (mentions, channel links,
//! labelled links, `<!here>`) and its three HTML escapes undone, threads as transcripts.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use tributary_sdk::chat::{Message, Transcript, replace_tokens};
use tributary_sdk::prelude::*;

use crate::api::{self, ts_millis};

/// How long a cached user name is trusted.
const NAME_TTL_MS: i64 = 24 * 3_600_000;

/// A message as `conversations.history` / `conversations.replies` return it.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct SlackMessage {
    /// The message id within its channel.
    pub ts: String,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// Set on bot messages without a user.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub bot_profile: Option<Value>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub reply_count: Option<u64>,
    #[serde(default)]
    pub latest_reply: Option<String>,
    #[serde(default)]
    pub edited: Option<Edited>,
    #[serde(default)]
    pub files: Vec<File>,
}

/// `edited: {user, ts}`.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct Edited {
    pub ts: String,
}

/// A file shared in a message: only its name is kept.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct File {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl SlackMessage {
    /// A thread's opener with replies (a reply has `thread_ts` ≠ `ts`).
    pub fn is_thread_parent(&self) -> bool {
        self.reply_count.unwrap_or(0) > 0 && self.thread_ts.as_deref() == Some(self.ts.as_str())
    }

    /// The ts of the thread this message belongs to (its own for a top-level message).
    pub fn root(&self) -> &str {
        self.thread_ts.as_deref().unwrap_or(&self.ts)
    }
}

/// Subtypes that are channel housekeeping, not conversation.
pub fn is_noise(subtype: Option<&str>) -> bool {
    matches!(
        subtype,
        Some(
            "channel_join"
                | "channel_leave"
                | "channel_topic"
                | "channel_purpose"
                | "channel_name"
                | "channel_archive"
                | "channel_unarchive"
                | "group_join"
                | "group_leave"
                | "bot_add"
                | "bot_remove"
                | "pinned_item"
                | "unpinned_item"
        )
    )
}

/// User names by id, for one job.
#[derive(Default)]
pub struct Names(HashMap<String, String>);

#[derive(serde::Serialize, Deserialize)]
struct Cached {
    name: String,
    at: i64,
}

impl Names {
    /// The display name of `user` (its id when Slack does not know it).
    pub fn get(&mut self, user: &str) -> Result<String, Error> {
        if let Some(n) = self.0.get(user) {
            return Ok(n.clone());
        }
        let key = format!("user/{user}");
        let now = time::now_millis();
        let name = match kv::get_json::<Cached>(&key)? {
            Some(c) if now - c.at < NAME_TTL_MS => c.name,
            _ => {
                let name = match api::call("users.info", &[("user", user)]) {
                    Ok(v) => display_name(&v["user"]).unwrap_or_else(|| user.to_string()),
                    Err(Error::NotFound(_)) => user.to_string(),
                    Err(e) => return Err(e),
                };
                kv::set_json(
                    &key,
                    &Cached {
                        name: name.clone(),
                        at: now,
                    },
                )?;
                name
            }
        };
        self.0.insert(user.to_string(), name.clone());
        Ok(name)
    }

    /// The author of a message: its user's name, else the bot's.
    pub fn author(&mut self, m: &SlackMessage) -> Result<String, Error> {
        let bot = m
            .bot_profile
            .as_ref()
            .and_then(|b| b["name"].as_str())
            .map(str::to_string);
        match (&m.user, bot, &m.username) {
            (_, Some(bot), _) => Ok(bot),
            (Some(u), None, _) => self.get(u),
            (None, None, Some(name)) => Ok(name.clone()),
            (None, None, None) => Ok("Slack".into()),
        }
    }
}

/// A user's name as Slack shows it: display name, else real name, else handle.
pub fn display_name(user: &Value) -> Option<String> {
    [
        &user["profile"]["display_name"],
        &user["profile"]["real_name"],
        &user["real_name"],
        &user["name"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .find(|s| !s.trim().is_empty())
    .map(str::to_string)
}

/// Slack's markup as plain text.
pub fn plain(text: &str, names: &mut Names) -> Result<String, Error> {
    let out = replace_tokens(text, |inner| {
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        Ok::<_, Error>(match target.as_bytes().first() {
            Some(b'@') => match label {
                Some(l) => format!("@{l}"),
                None => format!("@{}", names.get(&target[1..])?),
            },
            Some(b'#') => format!("#{}", label.unwrap_or(&target[1..])),
            Some(b'!') => {
                let word = target[1..].split('^').next().unwrap_or("");
                label.map_or_else(|| format!("@{word}"), str::to_string)
            }
            _ => match label {
                Some(l) if l != target => format!("{l} ({target})"),
                _ => target.to_string(),
            },
        })
    })?;
    Ok(out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&"))
}

/// One Slack message as a transcript line.
pub fn line(m: &SlackMessage, names: &mut Names) -> Result<Message, Error> {
    let mut line = Message::new(names.author(m)?, ts_millis(&m.ts), plain(&m.text, names)?);
    line.edited_at = m.edited.as_ref().and_then(|e| ts_millis(&e.ts));
    line.files = m
        .files
        .iter()
        .filter_map(|f| f.title.clone().or_else(|| f.name.clone()))
        .collect();
    Ok(line)
}

/// A conversation: `messages` (opener first) under `heading`.
pub fn transcript(
    heading: &str,
    messages: &[SlackMessage],
    names: &mut Names,
) -> Result<Transcript, Error> {
    let mut t = Transcript::new(heading);
    for m in messages.iter().filter(|m| !is_noise(m.subtype.as_deref())) {
        t.push(line(m, names)?);
    }
    Ok(t)
}
