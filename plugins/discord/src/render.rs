//! Discord messages as text: mentions (`<@id>`, `<#id>`, `<@&id>`), custom emoji and
//! timestamps (`<t:…>`) resolved, replies quoted, attachments named, embeds' titles and
//! descriptions kept. Markdown stays as written: it reads well as it is.

use serde::Deserialize;
use serde_json::Value;
use tributary_sdk::chat::{Message, headline, replace_tokens};

use crate::guilds::Guild;
use crate::rest::snowflake_millis;

/// A message as `GET /channels/{id}/messages` returns it.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct DiscordMessage {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: u8,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub author: Value,
    #[serde(default)]
    pub edited_timestamp: Option<String>,
    #[serde(default)]
    pub mentions: Vec<Value>,
    #[serde(default)]
    pub attachments: Vec<Value>,
    #[serde(default)]
    pub embeds: Vec<Value>,
    #[serde(default)]
    pub referenced_message: Option<Box<DiscordMessage>>,
}

impl DiscordMessage {
    /// Conversation, not housekeeping (joins, pins, "thread created"): default, reply,
    /// slash-command and context-menu answers, a thread's starter.
    pub fn is_conversation(&self) -> bool {
        matches!(self.kind, 0 | 19 | 20 | 21 | 23)
    }
}

/// A user object's name as Discord shows it.
pub fn user_name(u: &Value) -> String {
    u["global_name"]
        .as_str()
        .or_else(|| u["username"].as_str())
        .unwrap_or("someone")
        .to_string()
}

/// Discord's `<…>` tokens as plain text (unknown ones kept as written).
pub fn plain(m: &DiscordMessage, g: &Guild) -> String {
    let out = replace_tokens(&m.content, |inner| {
        Ok::<_, std::convert::Infallible>(
            token(inner, m, g).unwrap_or_else(|| format!("<{inner}>")),
        )
    });
    match out {
        Ok(text) => text,
        Err(never) => match never {},
    }
}

fn token(inner: &str, m: &DiscordMessage, g: &Guild) -> Option<String> {
    if let Some(role) = inner.strip_prefix("@&") {
        return Some(format!("@{}", g.roles.get(role)?));
    }
    if let Some(user) = inner.strip_prefix('@') {
        let user = user.trim_start_matches('!');
        let u = m.mentions.iter().find(|u| u["id"].as_str() == Some(user))?;
        return Some(format!("@{}", user_name(u)));
    }
    if let Some(ch) = inner.strip_prefix('#') {
        return Some(format!("#{}", g.names.get(ch)?));
    }
    if let Some(t) = inner.strip_prefix("t:") {
        let secs: i64 = t.split(':').next()?.parse().ok()?;
        return tributary_sdk::time::format_rfc3339(secs * 1000);
    }
    let emoji = inner
        .strip_prefix("a:")
        .or_else(|| inner.strip_prefix(':'))?;
    Some(format!(":{}:", emoji.split(':').next()?))
}

/// One message as a transcript line.
pub fn line(m: &DiscordMessage, g: &Guild) -> Message {
    let mut text = String::new();
    // A thread's starter message points at the channel message that opened it.
    let body = match (&m.referenced_message, m.kind) {
        (Some(r), 21) => r.as_ref(),
        (Some(r), _) => {
            let quoted = headline(&plain(r, g), 80);
            text.push_str(&format!("(reply to {}: {quoted})\n", user_name(&r.author)));
            m
        }
        (None, _) => m,
    };
    text.push_str(&plain(body, g));
    for e in &body.embeds {
        for k in ["title", "description"] {
            if let Some(s) = e[k].as_str().filter(|s| !s.is_empty()) {
                text.push('\n');
                text.push_str(s);
            }
        }
    }
    let mut line = Message::new(user_name(&body.author), snowflake_millis(&m.id), text);
    line.edited_at = body
        .edited_timestamp
        .as_deref()
        .and_then(tributary_sdk::time::parse_millis);
    line.files = body
        .attachments
        .iter()
        .filter_map(|a| a["filename"].as_str().map(str::to_string))
        .collect();
    line
}
