//! Gmail provider: the messages of a mailbox (headers, the text or HTML body, labels,
//! thread, attachment names), newest first so recent mail is searchable first, limited
//! by labels, a Gmail query and a date range. Incremental walks read `history.list`
//! from the last `historyId` (a 404 means a full walk); push is `users.watch` to the
//! app's Cloud Pub/Sub topic, delivered to the host's per-app webhook and routed by the
//! mailbox's address. The `create_draft` action saves a draft; nothing is ever sent.

mod draft;
mod message;
mod oidc;
mod push;
mod walk;

use serde::Deserialize;
use serde_json::{Value, json};
use tributary_google::check;
use tributary_sdk::prelude::*;
use tributary_sdk::{FieldKind, WebhookRouting, url};

pub use message::{Message, content, decode_b64, rebuild};
pub use oidc::verify as verify_oidc;

/// The API root for the token's own mailbox.
pub const API: &str = "https://gmail.googleapis.com/gmail/v1/users/me";
/// Gmail's API host.
pub const HOST: &str = "gmail.googleapis.com";
/// Renew the watch daily (Google: at least every 7 days, daily recommended): the host
/// renews with a quarter of the announced lifetime left, so 32 hours means every 24.
const WATCH_RENEW_MS: i64 = 32 * 3_600_000;

/// The provider. An instance lives for one job.
#[derive(Default)]
pub struct Gmail;

impl Provider for Gmail {
    fn manifest() -> Manifest {
        let compose = format!(
            "action:{} {}",
            draft::NAME,
            tributary_google::scope("gmail.compose")
        );
        let read = tributary_google::scope("gmail.readonly");
        let oauth = tributary_google::oauth2(&[read.as_str(), compose.as_str()]);
        tributary_google::manifest("gmail", "Gmail", "gmail.readonly")
            .auth(Auth::Oauth2(oauth), Injection::Bearer)
            .description(
                "Your Gmail messages: senders, subjects, text, labels and attachment names",
            )
            .category(Category::Communication)
            .version(env!("CARGO_PKG_VERSION"))
            // Per user: 250 quota units a second, and messages.get costs 5, so 3,000
            // fetches a minute. The host's budget is per provider; Google's 429s and 403
            // rate reasons are rate limits the host backs off on.
            .rate_limits(3_000, None, 4)
            .allowed_host(HOST)
            .webhook(WebhookRouting::PerApp)
            .field(
                "labels",
                "Only these label ids, comma-separated (INBOX, Label_12)",
                FieldKind::Text,
                false,
            )
            .field(
                "query",
                "Only mail matching this Gmail search (from:boss has:attachment)",
                FieldKind::Text,
                false,
            )
            .field(
                "after",
                "Only mail after this date (YYYY-MM-DD)",
                FieldKind::Text,
                false,
            )
            .field(
                "before",
                "Only mail before this date (YYYY-MM-DD)",
                FieldKind::Text,
                false,
            )
            .field(
                "topic",
                "Cloud Pub/Sub topic for push (projects/<project>/topics/<topic>)",
                FieldKind::Text,
                false,
            )
            .action(
                draft::NAME,
                "Create a draft",
                "Saves a plain-text draft in the mailbox; nothing is sent",
                draft::SCHEMA,
            )
            .build()
    }

    fn check(&mut self, config: &Config) -> Result<Account, Error> {
        walk::query(config)?;
        let p = walk::profile()?;
        let address = p.email_address.to_ascii_lowercase();
        Ok(Account {
            id: address.clone(),
            name: p.email_address,
            email: Some(address),
        })
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        match req.mode {
            ListMode::Full => walk::full(config, &req),
            ListMode::Incremental => walk::incremental(config, &req),
        }
    }

    fn fetch(&mut self, _config: &Config, id: &str) -> Result<Content, Error> {
        let href = url::build(API, &["messages", id], &[("format", "full")]);
        let m: Message = check(http::Request::get(href).authenticated().send()?)?.json()?;
        if m.label_ids.iter().any(|l| l == "TRASH" || l == "SPAM") {
            return Err(Error::not_found(format!(
                "message {id} is in the trash or spam"
            )));
        }
        Ok(content(&m))
    }

    fn webhook(&mut self, _config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        push::delivery(&req)
    }

    fn subscribe(
        &mut self,
        config: &Config,
        _callback: &str,
        _secret: &str,
    ) -> Result<Subscription, Error> {
        // Pub/Sub, not this URL, is where Gmail publishes; the admin points the topic's
        // push subscription at the host's per-app webhook (README).
        let topic = config
            .get("topic")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::invalid_config(
                    "no Pub/Sub `topic` configured: Gmail push is off, changes arrive by schedule",
                )
            })?;
        let labels = walk::labels(config);
        let mut body = json!({ "topicName": topic });
        if !labels.is_empty() {
            body["labelIds"] = json!(labels);
            body["labelFilterBehavior"] = json!("include");
        }
        #[derive(Deserialize)]
        struct Watch {
            expiration: Option<Value>,
        }
        let href = url::build(API, &["watch"], &[]);
        let w: Watch = check(
            http::Request::post(href)
                .json(&body)
                .authenticated()
                .send()?,
        )?
        .json()?;
        let announced = w.expiration.and_then(|e| match e {
            Value::String(s) => s.parse::<i64>().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        });
        let daily = time::now_millis() + WATCH_RENEW_MS;
        Ok(Subscription {
            // One watch per mailbox: a renewal replaces it under the same id, so the host
            // never stops the new watch as "the replaced one".
            id: format!("watch:{topic}"),
            expires_at: Some(announced.map_or(daily, |a| a.min(daily))),
            resource: None,
        })
    }

    fn unsubscribe(&mut self, _config: &Config, _subscription: &Subscription) -> Result<(), Error> {
        let href = url::build(API, &["stop"], &[]);
        check(
            http::Request::post(href)
                .body(Vec::new())
                .authenticated()
                .send()?,
        )?;
        Ok(())
    }

    fn run_action(&mut self, _config: &Config, name: &str, input: Value) -> Result<Value, Error> {
        match name {
            draft::NAME => draft::create(input),
            other => Err(Error::not_found(format!("Gmail has no action `{other}`"))),
        }
    }
}

tributary_sdk::export!(Gmail);
