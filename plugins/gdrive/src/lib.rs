//! Google Drive provider: the files a user can read (My Drive, shared with them, and shared
//! drives when configured), optionally only one folder's tree. Google Docs, Sheets and
//! Slides are exported as text or CSV, and every other file is downloaded by the host
//! (allow-listed, size-capped); either way the bytes never pass through the plugin. The
//! changes feed (`changes.list` from the start page token taken before the full walk)
//! makes incremental walks, and a `changes.watch` channel pushes "something changed".

mod api;
mod convert;
mod walk;

use std::collections::HashMap;

use tributary_google::{channel, check};
use tributary_sdk::FieldKind;
use tributary_sdk::prelude::*;

pub use api::{API, File};
pub use convert::{Access, resource};

/// The provider. An instance lives for one job.
#[derive(Default)]
pub struct Gdrive {
    /// The files of the last page listed: the host fetches the changed ones before it
    /// asks for the next page, and their metadata is already here (one request per file
    /// instead of two).
    listed: HashMap<String, File>,
}

/// How long a push channel is asked to live (Google caps changes channels at a week).
const CHANNEL_MS: i64 = 7 * 24 * 3_600_000;

/// Query parameters for shared drives, when the integration includes them.
pub(crate) fn drives_params(config: &Config) -> Vec<(&'static str, &'static str)> {
    if config.get("shared_drives") == Some("true") {
        vec![
            ("supportsAllDrives", "true"),
            ("includeItemsFromAllDrives", "true"),
        ]
    } else {
        Vec::new()
    }
}

/// `changes.getStartPageToken`: where changes after now begin.
pub(crate) fn start_page_token(config: &Config) -> Result<String, Error> {
    let mut q = vec![("fields", "startPageToken")];
    if config.get("shared_drives") == Some("true") {
        q.push(("supportsAllDrives", "true"));
    }
    let url = tributary_sdk::url::build(API, &["changes", "startPageToken"], &q);
    let resp = check(http::Request::get(url).authenticated().send()?)?;
    Ok(resp.json::<api::StartPageToken>()?.start_page_token)
}

impl Provider for Gdrive {
    fn manifest() -> Manifest {
        let read = format!("full-content {}", tributary_google::scope("drive.readonly"));
        let meta = format!(
            "metadata-only {}",
            tributary_google::scope("drive.metadata.readonly")
        );
        let oauth = tributary_google::oauth2(&[read.as_str(), meta.as_str()]);
        tributary_google::manifest("gdrive", "Google Drive", "drive.readonly")
            .auth(Auth::Oauth2(oauth), Injection::Bearer)
            .description("Files in Google Drive: Docs, Sheets and Slides as text, PDFs and Office files extracted")
            .category(Category::Storage)
            .version(env!("CARGO_PKG_VERSION"))
            // The host's budget is per provider, so per Google Cloud project: Drive's
            // per-project default is 12,000 queries a minute; per-user limits come back as
            // 403 userRateLimitExceeded, which is a rate limit the host backs off on.
            .rate_limits(10_000, None, 8)
            .field("folder_id", "Only this folder (its id from the Drive URL)", FieldKind::Text, false)
            .field("shared_drives", "Include shared drives", FieldKind::Boolean, false)
            .build()
    }

    fn check(&mut self, _config: &Config) -> Result<Account, Error> {
        let url = tributary_sdk::url::build(API, &["about"], &[("fields", "user")]);
        let about: api::About = check(http::Request::get(url).authenticated().send()?)?.json()?;
        let u = about.user;
        Ok(Account {
            id: u
                .permission_id
                .or_else(|| u.email_address.clone())
                .ok_or_else(|| Error::other("Drive named no user"))?,
            name: u.display_name,
            email: u.email_address,
        })
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        self.listed.clear();
        walk::page(config, req, &mut self.listed, Access::granted()?)
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        let access = Access::granted()?;
        if let Some(file) = self.listed.get(id) {
            return convert::content(config, file, access)
                .ok_or_else(|| Error::not_found(format!("{id} is a folder")));
        }
        let mut q = vec![("fields", api::FILE_FIELDS)];
        q.extend(
            drives_params(config)
                .into_iter()
                .filter(|(k, _)| *k == "supportsAllDrives"),
        );
        let url = tributary_sdk::url::build(API, &["files", id], &q);
        let file: File = check(http::Request::get(url).authenticated().send()?)?.json()?;
        if file.trashed {
            return Err(Error::not_found(format!("file {id} is in the trash")));
        }
        convert::content(config, &file, access)
            .ok_or_else(|| Error::not_found(format!("{id} is a folder")))
    }

    fn webhook(&mut self, _config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        Ok(channel::notification(&req))
    }

    fn subscribe(
        &mut self,
        config: &Config,
        callback_url: &str,
        secret: &str,
    ) -> Result<Subscription, Error> {
        let now = time::now_millis();
        // Google asks for a new id for each channel.
        let id = channel::new_id(secret, &now.to_string());
        let token = start_page_token(config)?;
        let mut q = vec![("pageToken", token.as_str())];
        q.extend(drives_params(config));
        let url = tributary_sdk::url::build(API, &["changes", "watch"], &q);
        let body = channel::watch_body(&id, callback_url, secret, Some(now + CHANNEL_MS));
        let resp = check(
            http::Request::post(url)
                .json(&body)
                .authenticated()
                .send()?,
        )?;
        channel::parse_channel(resp.bytes())
    }

    fn unsubscribe(&mut self, _config: &Config, subscription: &Subscription) -> Result<(), Error> {
        channel::stop(API, subscription)
    }
}

tributary_sdk::export!(Gdrive);
