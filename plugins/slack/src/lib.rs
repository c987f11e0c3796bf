//! Slack provider: the conversations a person can read in a workspace, through their own
//! user token (OAuth v2 `user_scope`, token rotation supported). A thread (opener and
//! replies) is one resource, so a search finds a conversation by words from any reply; a
//! message without replies is one on its own. User and channel names are resolved,
//! files named, permalinks kept. Incremental walks read each channel after its last
//! checkpoint; the Events API (one Request URL per app, routed by `team_id`) brings new,
//! edited and deleted messages within seconds.

mod api;
mod channels;
mod events;
mod render;
mod walk;

use tributary_sdk::chat::headline;
use tributary_sdk::prelude::*;
use tributary_sdk::{Capabilities, FieldKind, Oauth2, WebhookRouting};

use channels::{Channel, Selection};
use render::{Names, SlackMessage};

/// The user scopes asked for: history and names of the conversation kinds a user can
/// choose, and people's names.
pub const USER_SCOPES: &[&str] = &[
    "channels:history",
    "channels:read",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "mpim:history",
    "mpim:read",
    "users:read",
];

/// The provider. An instance lives for one job.
#[derive(Default)]
pub struct Slack {
    channels: Option<Vec<Channel>>,
    checkpoints: tributary_sdk::checkpoint::Marks,
    names: Names,
    team_url: Option<String>,
}

impl Slack {
    /// `https://<team>.slack.com/archives/<channel>/p<ts without the dot>`.
    fn permalink(&mut self, channel: &str, ts: &str) -> Result<Option<String>, Error> {
        if self.team_url.is_none() {
            self.team_url = match kv::get("team_url")? {
                Some(u) => String::from_utf8(u).ok(),
                None => {
                    let me = api::call("auth.test", &[])?;
                    let url = me["url"].as_str().map(str::to_string);
                    if let Some(u) = &url {
                        kv::set("team_url", u.as_bytes())?;
                    }
                    url
                }
            };
        }
        Ok(self.team_url.as_ref().map(|base| {
            let base = base.trim_end_matches('/');
            format!("{base}/archives/{channel}/p{}", ts.replace('.', ""))
        }))
    }

    /// A conversation's content: `messages` opener first.
    fn content(
        &mut self,
        ch: &Channel,
        id: &str,
        messages: &[SlackMessage],
        link: Option<String>,
    ) -> Result<Content, Error> {
        let heading = ch.heading(&mut self.names)?;
        let t = render::transcript(&heading, messages, &mut self.names)?;
        let opener = t.first().cloned().unwrap_or_default();
        let title = format!("{heading}: {}", headline(&opener.text, 80));
        let kind = if t.len() > 1 { "thread" } else { "message" };
        let mut c = Content::text(id, kind, &title, &t.render())
            .with_times(t.created_at(), t.updated_at())
            .with_author(opener.author, None)
            .with_meta("channel", heading)
            .with_meta("channel_id", ch.id.clone());
        if let Some(l) = link {
            c = c.with_url(l);
        }
        Ok(c)
    }

    /// A conversation the integration may read: listed this job, or asked of Slack and
    /// checked against the selection (webhook jobs reach every integration of a team).
    fn channel(&mut self, sel: &Selection, id: &str) -> Result<Channel, Error> {
        let known = self
            .channels
            .as_ref()
            .and_then(|l| l.iter().find(|c| c.id == id).cloned());
        let ch = match known {
            Some(c) => c,
            None => channels::info(id)?,
        };
        if !sel.takes(&ch) {
            return Err(Error::not_found(format!(
                "channel {id} is not one this integration syncs"
            )));
        }
        Ok(ch)
    }
}

impl Provider for Slack {
    fn manifest() -> Manifest {
        let mut oauth = Oauth2::new(
            "https://slack.com/oauth/v2/authorize",
            "https://slack.com/api/oauth.v2.access",
            USER_SCOPES,
        );
        // A user token: scopes go in `user_scope`, comma-joined, and the token comes back
        // under `authed_user` (at the root when a rotating token is refreshed).
        oauth.scope_param = Some("user_scope".into());
        oauth.scope_separator = Some(",".into());
        oauth.token_pointer = Some("/authed_user".into());
        ManifestBuilder::new("slack", "Slack")
            .description("Your Slack conversations: channels, threads and direct messages")
            .icon("slack")
            .category(Category::Communication)
            .version(env!("CARGO_PKG_VERSION"))
            .auth(Auth::Oauth2(oauth), Injection::Bearer)
            .capabilities(Capabilities {
                pull: true,
                incremental: true,
                webhooks: true,
                subscribe: false,
            })
            // Tier 3 (conversations.history, conversations.replies: 50+/minute) for an
            // internal or Marketplace app; the host's budget is per provider. A
            // non-Marketplace app installed in other workspaces gets Tier 1 (1/minute)
            // since 2025: its admin lowers this in the provider settings (README).
            .rate_limits(50, None, 2)
            .allowed_host(api::HOST)
            .webhook(WebhookRouting::PerApp)
            .field(
                "channels",
                "Only these channels, comma-separated names or ids (default: the public channels you are in)",
                FieldKind::Text,
                false,
            )
            .field(
                "all_public",
                "Every public channel, also those you have not joined",
                FieldKind::Boolean,
                false,
            )
            .field(
                "private",
                "Also the private channels you are in",
                FieldKind::Boolean,
                false,
            )
            .field(
                "dms",
                "Also your direct and group messages",
                FieldKind::Boolean,
                false,
            )
            .build()
    }

    fn check(&mut self, _config: &Config) -> Result<Account, Error> {
        let me = api::call("auth.test", &[])?;
        let s = |k: &str| me[k].as_str().unwrap_or("").to_string();
        if s("team_id").is_empty() {
            return Err(Error::invalid_input("auth.test answered without a team_id"));
        }
        // The team is the account: Events API deliveries name the team, not the user.
        Ok(Account {
            id: s("team_id"),
            name: format!("{} @ {}", s("user"), s("team")),
            email: None,
        })
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        self.page(config, &req)
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        let (channel, ts) = id
            .split_once('/')
            .ok_or_else(|| Error::invalid_input(format!("{id:?} is not a Slack message id")))?;
        let ch = self.channel(&Selection::from_config(config), channel)?;
        let mut messages: Vec<SlackMessage> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("channel", channel), ("ts", ts), ("limit", "200")];
            if let Some(c) = &cursor {
                query.push(("cursor", c));
            }
            let body = api::call("conversations.replies", &query)?;
            let page: Vec<SlackMessage> =
                serde_json::from_value(body["messages"].clone()).map_err(Error::from)?;
            // Later pages repeat the opener first.
            let skip =
                usize::from(!messages.is_empty() && page.first().is_some_and(|m| m.ts == ts));
            messages.extend(page.into_iter().skip(skip));
            match api::next_cursor(&body).filter(|_| body["has_more"].as_bool().unwrap_or(false)) {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if messages.first().is_none_or(|m| m.ts != ts) {
            return Err(Error::not_found(format!(
                "message {ts} is gone from {channel}"
            )));
        }
        let link = self.permalink(channel, ts)?;
        self.content(&ch, id, &messages, link)
    }

    fn webhook(&mut self, _config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        events::delivery(&req)
    }
}

tributary_sdk::export!(Slack);
