//! GitLab provider: the projects a person chooses (or the ones they are a member of, up
//! to a cap), on gitlab.com or a self-managed instance. README and Markdown/text
//! documents of the default branch (downloaded by the host, binary files recorded as
//! skipped), issues and merge requests each with their notes, and wiki pages.
//! Incremental walks ask only for what changed (`updated_after`, head commit) and
//! conditionally (ETag); project hooks made by `subscribe` bring single issues within
//! seconds.

mod api;
mod events;
mod issues;
mod walk;

use std::collections::HashMap;

use serde_json::Value;
use tributary_forge::hooks;
use tributary_sdk::prelude::*;
use tributary_sdk::{Capabilities, FieldKind, Oauth2, WebhookRouting};

use issues::Kind;

/// The OAuth scopes: `api` (reading, and managing the project hooks that push changes).
pub const SCOPES: &[&str] = &["api"];

/// The provider. An instance lives for one job.
#[derive(Default)]
pub struct Gitlab {
    /// Issues and merge requests of the last page listed, by resource id.
    listed: HashMap<String, Value>,
    /// Default branch and web URL of the projects met in this job.
    metas: walk::Metas,
}

/// `(project, kind, rest)` of a resource id `<project>/-/<kind>/<rest>`.
fn parse_id(id: &str) -> Result<(&str, &str, &str), Error> {
    let bad = || Error::invalid_input(format!("{id:?} is not a GitLab resource id"));
    let (project, tail) = id.split_once("/-/").ok_or_else(bad)?;
    let (kind, rest) = tail.split_once('/').ok_or_else(bad)?;
    let ok = tributary_forge::valid_path(project);
    if !ok || !tributary_forge::valid_file_path(rest) {
        return Err(bad());
    }
    Ok((project, kind, rest))
}

impl Provider for Gitlab {
    fn manifest() -> Manifest {
        let mut oauth = Oauth2::new(
            "https://gitlab.com/oauth/authorize",
            "https://gitlab.com/oauth/token",
            SCOPES,
        );
        oauth.revoke_url = Some("https://gitlab.com/oauth/revoke".into());
        oauth.pkce = true;
        ManifestBuilder::new("gitlab", "GitLab")
            .description("Projects on GitLab: docs, issues, merge requests with their notes, wiki pages")
            .icon("gitlab")
            .category(Category::Development)
            .version(env!("CARGO_PKG_VERSION"))
            .auth(Auth::Oauth2(oauth), Injection::Bearer)
            .capabilities(Capabilities {
                pull: true,
                incremental: true,
                webhooks: true,
                subscribe: true,
            })
            // gitlab.com: 2,000 authenticated API requests a minute per user; a
            // self-managed instance sets its own (the admin overrides this).
            .rate_limits(2_000, None, 4)
            .allowed_host(api::HOST)
            .allowed_host("config:base_url")
            .webhook(WebhookRouting::PerIntegration)
            .field("projects", "Projects to sync, group/project paths, comma-separated (default: the ones you were active in last)", FieldKind::Text, false)
            .field("max_projects", "How many projects when none are named (default 30, at most 100)", FieldKind::Number, false)
            .field("base_url", "Self-managed GitLab URL, https://<host> (default: gitlab.com)", FieldKind::Url, false)
            .build()
    }

    fn check(&mut self, config: &Config) -> Result<Account, Error> {
        tributary_forge::account(
            &api::get_json(&format!("{}/user", api::base(config)), None)?,
            "username",
        )
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        let base = api::base(config);
        self.listed.clear();
        let (listed, metas) = (&mut self.listed, &mut self.metas);
        tributary_forge::walk::page(
            &req,
            walk::PHASES,
            || walk::projects(&base, config),
            |st| walk::step(&base, st, listed, metas),
        )
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        let base = api::base(config);
        let (project, kind, rest) = parse_id(id)?;
        let named = tributary_forge::named_repos(config, "projects", tributary_forge::MAX_REPOS)?;
        if !named.is_empty() && !named.iter().any(|p| p.eq_ignore_ascii_case(project)) {
            return Err(Error::not_found(format!(
                "{project} is not synced by this integration"
            )));
        }
        if let Some(k) = Kind::from_path(kind) {
            let item = match self.listed.get(id) {
                Some(item) => item.clone(),
                None => api::get_json(
                    &format!(
                        "{}/{}/{}",
                        api::project(&base, project),
                        k.path(),
                        tributary_sdk::url::encode(rest)
                    ),
                    None,
                )?,
            };
            return issues::content(&base, project, k, &item);
        }
        if kind == "blob" {
            let (branch, web) = walk::project_meta(&base, project, &mut self.metas)?;
            let url = format!(
                "{}/repository/files/{}?ref={}",
                api::project(&base, project),
                tributary_sdk::url::encode(rest),
                tributary_sdk::url::encode(&branch)
            );
            let meta = api::get_json(&url, None)?;
            let entry = tributary_forge::tree::Entry {
                path: rest.to_string(),
                sha: meta["blob_id"].as_str().unwrap_or("").to_string(),
                size: meta["size"].as_u64(),
            };
            return tributary_forge::tree::resource(&entry, |e| {
                walk::doc_ref(&base, project, &branch, &web, e)
            })
            .and_then(|r| r.content)
            .ok_or_else(|| Error::not_found(format!("{rest} is not a document")));
        }
        Err(Error::not_found(format!(
            "{id}: wiki pages come with the listing"
        )))
    }

    fn webhook(&mut self, config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        let named = tributary_forge::named_repos(config, "projects", tributary_forge::MAX_REPOS)?;
        events::delivery(&req, &named)
    }

    fn subscribe(
        &mut self,
        config: &Config,
        callback_url: &str,
        secret: &str,
    ) -> Result<Subscription, Error> {
        let base = api::base(config);
        let projects = walk::projects(&base, config)?;
        hooks::subscribe_all(&projects, |p| {
            events::create_hook(&base, p, callback_url, secret)
        })
    }

    fn unsubscribe(&mut self, config: &Config, subscription: &Subscription) -> Result<(), Error> {
        let base = api::base(config);
        hooks::unsubscribe_all(subscription, |p, id| events::delete_hook(&base, p, id))
    }
}

tributary_sdk::export!(Gitlab);
