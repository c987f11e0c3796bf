//! Who may read what. The bot reads for everyone, so the plugin reads only what the
//! connected person could read in Discord: guilds both the person (their OAuth token's
//! `users/@me/guilds`) and the bot are in, narrowed by config; and in them, channels the
//! person's roles and the channel's overwrites let them view and read history of
//! (Discord's documented permission algorithm). Threads follow their parent channel.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::Value;
use tributary_sdk::prelude::*;

use crate::rest::{As, Buckets};

const ADMINISTRATOR: u64 = 1 << 3;
const VIEW_CHANNEL: u64 = 1 << 10;
const READ_MESSAGE_HISTORY: u64 = 1 << 16;

/// A permission overwrite on a channel.
#[derive(Debug, Clone, Deserialize)]
pub struct Overwrite {
    pub id: String,
    /// 0 = role, 1 = member.
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub allow: String,
    #[serde(default)]
    pub deny: String,
}

/// A guild channel or thread.
#[derive(Debug, Clone, Deserialize)]
pub struct Chan {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub permission_overwrites: Vec<Overwrite>,
    #[serde(default)]
    pub last_message_id: Option<String>,
    #[serde(default)]
    pub message_count: Option<u64>,
    #[serde(default)]
    pub thread_metadata: Option<Value>,
}

impl Chan {
    /// Text and announcement channels hold messages.
    pub fn has_messages(&self) -> bool {
        matches!(self.kind, 0 | 5)
    }

    /// Text, announcement, forum and media channels hold threads.
    pub fn has_threads(&self) -> bool {
        matches!(self.kind, 0 | 5 | 15 | 16)
    }

    /// The name, or the id when Discord sent none.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

fn bits(s: &str) -> u64 {
    s.parse().unwrap_or(0)
}

/// One guild as the connected person sees it.
pub struct Guild {
    pub name: String,
    /// Channels the person can read, in id order.
    pub readable: Vec<Chan>,
    /// Every channel's name (for `<#id>` mentions).
    pub names: HashMap<String, String>,
    /// Role names (for `<@&id>` mentions).
    pub roles: HashMap<String, String>,
    /// Active threads of readable channels.
    pub active_threads: Vec<Chan>,
}

impl Guild {
    /// Read a guild's roles, the person's membership, its channels and active threads.
    pub fn load(rest: &mut Buckets, id: &str, user: &str) -> Result<Guild, Error> {
        let g = rest.get(As::Bot, &format!("guilds/{id}"))?;
        let member = match rest.get(As::Bot, &format!("guilds/{id}/members/{user}")) {
            Ok(m) => m,
            Err(Error::NotFound(_)) => {
                return Err(Error::Forbidden(format!(
                    "you are not a member of Discord server {id}"
                )));
            }
            Err(e) => return Err(e),
        };
        let chans: Vec<Chan> =
            serde_json::from_value(rest.get(As::Bot, &format!("guilds/{id}/channels"))?)?;
        let mut roles = HashMap::new();
        let mut role_bits = HashMap::new();
        for r in g["roles"].as_array().into_iter().flatten() {
            let rid = r["id"].as_str().unwrap_or("").to_string();
            roles.insert(rid.clone(), r["name"].as_str().unwrap_or("").to_string());
            role_bits.insert(rid, bits(r["permissions"].as_str().unwrap_or("0")));
        }
        let mine: BTreeSet<String> = member["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        let owner = g["owner_id"].as_str() == Some(user);
        let mut base = role_bits.get(id).copied().unwrap_or(0);
        for r in &mine {
            base |= role_bits.get(r).copied().unwrap_or(0);
        }
        let can = |c: &Chan| {
            let need = VIEW_CHANNEL | READ_MESSAGE_HISTORY;
            owner || permissions(base, id, user, &mine, c) & need == need
        };
        let mut readable: Vec<Chan> = chans.iter().filter(|c| can(c)).cloned().collect();
        readable.sort_by_key(|c| c.id.parse::<u64>().unwrap_or(0));
        let names = chans
            .iter()
            .map(|c| (c.id.clone(), c.label().to_string()))
            .collect();
        let active: Vec<Chan> = serde_json::from_value(
            rest.get(As::Bot, &format!("guilds/{id}/threads/active"))?["threads"].clone(),
        )?;
        let open: BTreeSet<&str> = readable.iter().map(|c| c.id.as_str()).collect();
        let active_threads = active
            .into_iter()
            .filter(|t| t.kind != 12 && t.parent_id.as_deref().is_some_and(|p| open.contains(p)))
            .collect();
        Ok(Guild {
            name: g["name"].as_str().unwrap_or(id).to_string(),
            readable,
            names,
            roles,
            active_threads,
        })
    }

    /// A readable channel by id.
    pub fn channel(&self, id: &str) -> Option<&Chan> {
        self.readable.iter().find(|c| c.id == id)
    }
}

/// A member's permissions in a channel: base (everyone + roles), then the channel's
/// `@everyone` overwrite, the role overwrites together, the member's own overwrite.
pub fn permissions(base: u64, guild: &str, user: &str, roles: &BTreeSet<String>, c: &Chan) -> u64 {
    if base & ADMINISTRATOR != 0 {
        return u64::MAX;
    }
    let mut p = base;
    if let Some(o) = c.permission_overwrites.iter().find(|o| o.id == guild) {
        p = (p & !bits(&o.deny)) | bits(&o.allow);
    }
    let (mut allow, mut deny) = (0, 0);
    for o in c
        .permission_overwrites
        .iter()
        .filter(|o| o.kind == 0 && roles.contains(&o.id))
    {
        allow |= bits(&o.allow);
        deny |= bits(&o.deny);
    }
    p = (p & !deny) | allow;
    if let Some(o) = c
        .permission_overwrites
        .iter()
        .find(|o| o.kind == 1 && o.id == user)
    {
        p = (p & !bits(&o.deny)) | bits(&o.allow);
    }
    p
}

/// Guild ids of `users/@me/guilds` as `who` (paged by `after`, 200 at a time).
pub fn member_of(rest: &mut Buckets, who: As) -> Result<BTreeSet<String>, Error> {
    let mut out = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("users/@me/guilds?limit=200&after={a}"),
            None => "users/@me/guilds?limit=200".to_string(),
        };
        let page = rest.get(who, &path)?;
        let ids: Vec<String> = page
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["id"].as_str().map(str::to_string))
            .collect();
        let full = ids.len() == 200;
        after = ids
            .iter()
            .max_by_key(|i| i.parse::<u64>().unwrap_or(0))
            .cloned();
        out.extend(ids);
        if !full {
            return Ok(out);
        }
    }
}

/// The guilds to sync: the person's and the bot's, narrowed to the config's `guilds`.
pub fn allowed(rest: &mut Buckets, config: &Config) -> Result<Vec<String>, Error> {
    let mine = member_of(rest, As::User)?;
    let bot = member_of(rest, As::Bot)?;
    let chosen: Vec<String> = config
        .get("guilds")
        .unwrap_or("")
        .split(',')
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect();
    let mut out = Vec::new();
    for g in mine.intersection(&bot) {
        if chosen.is_empty() || chosen.contains(g) {
            out.push(g.clone());
        }
    }
    for g in &chosen {
        if !mine.contains(g) {
            return Err(Error::invalid_config(format!(
                "you are not a member of Discord server {g}"
            )));
        }
        if !bot.contains(g) {
            log::warn(&format!(
                "the app's bot is not in Discord server {g}: an admin of that server must add it"
            ));
        }
    }
    out.sort_by_key(|g| g.parse::<u64>().unwrap_or(0));
    Ok(out)
}
