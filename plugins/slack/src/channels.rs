//! Which conversations an integration syncs: the public channels the user is in (or all
//! public channels), private channels and direct messages when the config asks for them,
//! or exactly the channels it names. The same rule guards `fetch`, because Events API
//! deliveries reach every integration of a workspace, not only the ones that chose that
//! channel.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tributary_sdk::prelude::*;

use crate::api;
use crate::render::Names;

/// What kind of conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Public,
    Private,
    Direct,
    Group,
}

/// A conversation as `conversations.list` / `conversations.info` describe it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub is_member: bool,
    /// The other person of a direct message.
    pub user: Option<String>,
}

impl Channel {
    /// From Slack's conversation object.
    pub fn from_json(c: &Value) -> Option<Channel> {
        let flag = |k: &str| c[k].as_bool().unwrap_or(false);
        let kind = if flag("is_im") {
            Kind::Direct
        } else if flag("is_mpim") {
            Kind::Group
        } else if flag("is_private") || flag("is_group") {
            Kind::Private
        } else {
            Kind::Public
        };
        Some(Channel {
            id: c["id"].as_str()?.to_string(),
            name: c["name"].as_str().unwrap_or("").to_string(),
            kind,
            // Direct messages carry no `is_member`: the user is in them by definition.
            is_member: flag("is_member") || matches!(kind, Kind::Direct | Kind::Group),
            user: c["user"].as_str().map(str::to_string),
        })
    }

    /// How a person names it: `#general`, `DM with Ada`, `Group DM`.
    pub fn heading(&self, names: &mut Names) -> Result<String, Error> {
        Ok(match self.kind {
            Kind::Public | Kind::Private => format!("#{}", self.name),
            Kind::Direct => match &self.user {
                Some(u) => format!("DM with {}", names.get(u)?),
                None => "Direct message".into(),
            },
            Kind::Group => "Group DM".into(),
        })
    }
}

/// The integration's choice of conversations.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Ids or names (without `#`) named in config; empty means "by kind".
    named: Vec<String>,
    all_public: bool,
    private: bool,
    dms: bool,
}

fn flag(config: &Config, key: &str) -> bool {
    matches!(config.get(key).map(str::trim), Some("true" | "1" | "yes"))
}

impl Selection {
    /// Read `channels`, `all_public`, `private` and `dms` from config.
    pub fn from_config(config: &Config) -> Selection {
        let named = config
            .get("channels")
            .unwrap_or("")
            .split(',')
            .map(|c| c.trim().trim_start_matches('#').to_string())
            .filter(|c| !c.is_empty())
            .collect();
        Selection {
            named,
            all_public: flag(config, "all_public"),
            private: flag(config, "private"),
            dms: flag(config, "dms"),
        }
    }

    /// The `types` to ask `conversations.list` for.
    pub fn types(&self) -> String {
        let mut t = vec!["public_channel"];
        if self.private || !self.named.is_empty() {
            t.push("private_channel");
        }
        if self.dms || !self.named.is_empty() {
            t.extend(["mpim", "im"]);
        }
        t.join(",")
    }

    /// Whether the integration syncs `c`.
    pub fn takes(&self, c: &Channel) -> bool {
        if !self.named.is_empty() {
            return self.named.iter().any(|n| *n == c.id || *n == c.name);
        }
        match c.kind {
            Kind::Public => c.is_member || self.all_public,
            Kind::Private => self.private && c.is_member,
            Kind::Direct | Kind::Group => self.dms,
        }
    }
}

/// Every selected conversation, in id order (a stable order for cursors).
pub fn list(sel: &Selection) -> Result<Vec<Channel>, Error> {
    let types = sel.types();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![
            ("types", types.as_str()),
            ("exclude_archived", "false"),
            ("limit", "200"),
        ];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let body = api::call("conversations.list", &query)?;
        for c in body["channels"].as_array().into_iter().flatten() {
            if let Some(ch) = Channel::from_json(c).filter(|ch| sel.takes(ch)) {
                out.push(ch);
            }
        }
        match api::next_cursor(&body) {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

/// One conversation by id (`conversations.info`).
pub fn info(id: &str) -> Result<Channel, Error> {
    let body = api::call("conversations.info", &[("channel", id)])?;
    Channel::from_json(&body["channel"])
        .ok_or_else(|| Error::invalid_input("conversations.info answered without a channel id"))
}
