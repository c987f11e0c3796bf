//! Discord provider: the text channels, threads and forum posts of the servers a person
//! and the app's bot share, as far as the person's roles let them read. The bot reads
//! (Discord lets only a bot in the server read its messages); the person's OAuth token
//! (`identify guilds`) says who they are and where they are a member. Messages are one
//! resource each, a thread (or forum post) is one resource with all its messages.
//! Discord sends no webhooks for messages (only its Gateway WebSocket does), so it
//! syncs by schedule: forward from each channel's newest message id.

mod guilds;
mod render;
mod rest;
mod walk;

use std::collections::HashMap;

use tributary_sdk::chat::{Transcript, headline};
use tributary_sdk::checkpoint::Marks;
use tributary_sdk::prelude::*;
use tributary_sdk::{Capabilities, FieldKind, Oauth2};

use guilds::Guild;
use render::DiscordMessage;
use rest::{As, Buckets};

/// The application flags that mean "Message Content intent on" (full or limited).
const MESSAGE_CONTENT_INTENT: u64 = (1 << 18) | (1 << 19);
/// A thread's messages read by one fetch, at most (100 a page).
const MAX_THREAD_PAGES: usize = 20;

/// The provider. An instance lives for one job.
#[derive(Default)]
pub struct Discord {
    rest: Buckets,
    me: Option<String>,
    allowed: Option<Vec<String>>,
    guilds: HashMap<String, Guild>,
    marks: Marks,
}

impl Discord {
    fn me(&mut self) -> Result<String, Error> {
        if let Some(id) = &self.me {
            return Ok(id.clone());
        }
        let me = self.rest.get(As::User, "users/@me")?;
        let id = me["id"]
            .as_str()
            .ok_or_else(|| Error::invalid_input("users/@me answered without an id"))?
            .to_string();
        self.me = Some(id.clone());
        Ok(id)
    }

    fn allowed(&mut self, config: &Config) -> Result<Vec<String>, Error> {
        if self.allowed.is_none() {
            self.allowed = Some(guilds::allowed(&mut self.rest, config)?);
        }
        Ok(self.allowed.clone().unwrap_or_default())
    }

    fn guild(&mut self, id: &str) -> Result<&Guild, Error> {
        if !self.guilds.contains_key(id) {
            let user = self.me()?;
            let g = Guild::load(&mut self.rest, id, &user)?;
            self.guilds.insert(id.to_string(), g);
        }
        Ok(&self.guilds[id])
    }

    /// The guild and channel, if the person may read that channel.
    fn readable(&mut self, config: &Config, guild: &str, channel: &str) -> Result<(), Error> {
        if !self.allowed(config)?.iter().any(|g| g == guild) {
            return Err(Error::not_found(format!(
                "Discord server {guild} is not one this integration syncs"
            )));
        }
        if self.guild(guild)?.channel(channel).is_none() {
            return Err(Error::not_found(format!(
                "channel {channel} is not readable for you"
            )));
        }
        Ok(())
    }

    fn message_content(
        &mut self,
        guild: &str,
        channel: &str,
        m: &DiscordMessage,
    ) -> Result<Content, Error> {
        let g = self.guild(guild)?;
        let name = g
            .channel(channel)
            .map_or(channel, |c| c.label())
            .to_string();
        let heading = format!("#{name} ({})", g.name);
        let line = render::line(m, g);
        let mut t = Transcript::new(&heading);
        t.push(line.clone());
        let id = format!("m/{guild}/{channel}/{}", m.id);
        Ok(Content::text(
            &id,
            "message",
            &format!("#{name}: {}", headline(&line.text, 80)),
            &t.render(),
        )
        .with_times(t.created_at(), t.updated_at())
        .with_author(line.author, None)
        .with_url(format!(
            "https://discord.com/channels/{guild}/{channel}/{}",
            m.id
        ))
        .with_meta("channel", format!("#{name}"))
        .with_meta("server", g.name.clone()))
    }

    fn thread_content(
        &mut self,
        config: &Config,
        guild: &str,
        thread: &str,
    ) -> Result<Content, Error> {
        let t = self.rest.get(As::Bot, &format!("channels/{thread}"))?;
        let parent = t["parent_id"].as_str().unwrap_or("").to_string();
        if t["type"].as_u64() == Some(12) {
            return Err(Error::not_found(format!("thread {thread} is private")));
        }
        self.readable(config, guild, &parent)?;
        let mut messages: Vec<DiscordMessage> = Vec::new();
        let mut before: Option<String> = None;
        for _ in 0..MAX_THREAD_PAGES {
            let path = match &before {
                Some(b) => format!("channels/{thread}/messages?limit=100&before={b}"),
                None => format!("channels/{thread}/messages?limit=100"),
            };
            let page: Vec<DiscordMessage> = serde_json::from_value(self.rest.get(As::Bot, &path)?)?;
            let n = page.len();
            before = page
                .iter()
                .map(|m| m.id.clone())
                .min_by_key(|i| i.parse::<u64>().unwrap_or(0));
            messages.extend(page);
            if n < 100 {
                break;
            }
        }
        messages.sort_by_key(|m| m.id.parse::<u64>().unwrap_or(0));
        let g = self.guild(guild)?;
        let pname = g
            .channel(&parent)
            .map_or(parent.as_str(), |c| c.label())
            .to_string();
        let name = t["name"].as_str().unwrap_or(thread);
        let mut tr = Transcript::new(format!("#{pname} › {name} ({})", g.name));
        for m in messages.iter().filter(|m| m.is_conversation()) {
            tr.push(render::line(m, g));
        }
        let author = tr.first().map(|l| l.author.clone()).unwrap_or_default();
        Ok(Content::text(
            &format!("t/{guild}/{thread}"),
            "thread",
            &format!("#{pname} › {name}"),
            &tr.render(),
        )
        .with_times(tr.created_at(), tr.updated_at())
        .with_author(author, None)
        .with_url(format!("https://discord.com/channels/{guild}/{thread}"))
        .with_meta("channel", format!("#{pname}"))
        .with_meta("server", g.name.clone()))
    }
}

impl Provider for Discord {
    fn manifest() -> Manifest {
        let mut oauth = Oauth2::new(
            "https://discord.com/oauth2/authorize",
            "https://discord.com/api/oauth2/token",
            &["identify", "guilds"],
        );
        oauth.revoke_url = Some("https://discord.com/api/oauth2/token/revoke".into());
        ManifestBuilder::new("discord", "Discord")
            .description("Messages, threads and forum posts of your Discord servers")
            .icon("discord")
            .category(Category::Communication)
            .version(env!("CARGO_PKG_VERSION"))
            .auth(Auth::Oauth2(oauth), Injection::Bearer)
            .capabilities(Capabilities {
                pull: true,
                incremental: true,
                webhooks: false,
                subscribe: false,
            })
            // The global limit is 50 requests a second per bot; per-route buckets come
            // from each answer's headers and are waited out before a 429.
            .rate_limits(3_000, None, 4)
            .allowed_host(rest::HOST)
            .field(
                "guilds",
                "Only these server ids, comma-separated (default: every server you share with the bot)",
                FieldKind::Text,
                false,
            )
            .build()
    }

    fn check(&mut self, config: &Config) -> Result<Account, Error> {
        let me = self.rest.get(As::User, "users/@me")?;
        let app = self.rest.get(As::Bot, "applications/@me")?;
        let flags = app["flags"].as_u64().unwrap_or(0);
        if flags & MESSAGE_CONTENT_INTENT == 0 {
            return Err(Error::invalid_config(
                "the Discord app lacks the Message Content intent: without it the bot reads empty messages (Developer Portal → Bot → Privileged Gateway Intents)",
            ));
        }
        self.allowed(config)?;
        let id = me["id"].as_str().unwrap_or("").to_string();
        Ok(Account {
            name: render::user_name(&me),
            email: None,
            id,
        })
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        self.page(config, &req)
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        let parts: Vec<&str> = id.split('/').collect();
        match parts.as_slice() {
            ["m", guild, channel, message] => {
                self.readable(config, guild, channel)?;
                let path = format!("channels/{channel}/messages/{message}");
                let m: DiscordMessage = serde_json::from_value(self.rest.get(As::Bot, &path)?)?;
                self.message_content(guild, channel, &m)
            }
            ["t", guild, thread] => self.thread_content(config, guild, thread),
            _ => Err(Error::invalid_input(format!("{id:?} is not a Discord id"))),
        }
    }
}

tributary_sdk::export!(Discord);
