//! GitHub provider: the repositories a person chooses (or the ones they work in, up to a
//! cap), on github.com or a GitHub Enterprise Server. README and Markdown/text documents
//! of the default branch (downloaded by the host, binary files recorded as skipped),
//! issues and pull requests each with their whole discussion, and releases. Incremental
//! walks ask only for what changed (`since`, tree SHA) and always conditionally (ETag →
//! 304, free at GitHub); repository webhooks made by `subscribe` bring single issues
//! within seconds.

mod api;
mod events;
mod issues;
mod walk;

use std::collections::HashMap;

use serde_json::Value;
use tributary_forge::hooks;
use tributary_forge::tree::Entry;
use tributary_sdk::prelude::*;
use tributary_sdk::{Capabilities, FieldKind, Oauth2, WebhookRouting};

/// The OAuth scopes: private repositories (`repo`, which includes their hooks) and the
/// person's organizations.
pub const SCOPES: &[&str] = &["repo", "read:org"];

/// The provider. An instance lives for one job.
#[derive(Default)]
pub struct Github {
    /// Issues of the last page listed, by resource id: fetching them needs only their
    /// comments.
    listed: HashMap<String, Value>,
}

/// `(repo, kind, rest)` of a resource id `owner/name/kind/rest`.
fn parse_id(id: &str) -> Result<(String, &str, &str), Error> {
    let mut parts = id.splitn(4, '/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        // Owner and name as GitHub allows them: never `.`/`..` or a separator, so an id
        // cannot walk to another API path.
        (Some(o), Some(n), Some(kind), Some(rest))
            if !rest.is_empty() && tributary_forge::valid_path(&format!("{o}/{n}")) =>
        {
            Ok((format!("{o}/{n}"), kind, rest))
        }
        _ => Err(Error::invalid_input(format!(
            "{id:?} is not a GitHub resource id"
        ))),
    }
}

impl Provider for Github {
    fn manifest() -> Manifest {
        let mut oauth = Oauth2::new(
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
            SCOPES,
        );
        oauth.revoke_url = None;
        ManifestBuilder::new("github", "GitHub")
            .description("Repositories on GitHub: docs, issues, pull requests with their discussions, releases")
            .icon("github")
            .category(Category::Development)
            .version(env!("CARGO_PKG_VERSION"))
            .auth(Auth::Oauth2(oauth), Injection::Bearer)
            .capabilities(Capabilities {
                pull: true,
                incremental: true,
                webhooks: true,
                subscribe: true,
            })
            // 5,000 requests an hour per user token (83 a minute); 304s are free at
            // GitHub but spend the host's budget, which keeps to the stricter count.
            .rate_limits(83, Some(120_000), 4)
            .allowed_host(api::HOST)
            .allowed_host("config:api_url")
            .webhook(WebhookRouting::PerIntegration)
            .field("repos", "Repositories to sync, owner/name, comma-separated (default: the ones you pushed to last)", FieldKind::Text, false)
            .field("max_repos", "How many repositories when none are named (default 30, at most 100)", FieldKind::Number, false)
            .field("api_url", "GitHub Enterprise Server API URL, https://<host>/api/v3 (default: github.com)", FieldKind::Url, false)
            .build()
    }

    fn check(&mut self, config: &Config) -> Result<Account, Error> {
        tributary_forge::account(
            &api::get_json(&format!("{}/user", api::base(config)), None)?,
            "login",
        )
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
        let base = api::base(config);
        self.listed.clear();
        let listed = &mut self.listed;
        tributary_forge::walk::page(
            &req,
            walk::PHASES,
            || walk::repos(&base, config),
            |st| walk::step(&base, st, listed),
        )
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        let base = api::base(config);
        let (repo, kind, rest) = parse_id(id)?;
        let named = tributary_forge::named_repos(config, "repos", tributary_forge::MAX_REPOS)?;
        if !named.is_empty() && !named.iter().any(|r| r.eq_ignore_ascii_case(&repo)) {
            return Err(Error::not_found(format!(
                "{repo} is not synced by this integration"
            )));
        }
        let number_ok = rest.bytes().all(|b| b.is_ascii_digit());
        match kind {
            "issues" | "pull" if !number_ok => {
                Err(Error::invalid_input(format!("{id:?}: not an issue number")))
            }
            "blob" if !tributary_forge::valid_file_path(rest) => Err(Error::invalid_input(
                format!("{id:?}: not a path inside the repository"),
            )),
            "issues" | "pull" => {
                let item = match self.listed.get(id) {
                    Some(item) => item.clone(),
                    None => issues::get(&base, &repo, rest)?,
                };
                // The number of an issue is the number of a pull request too: the
                // kind in the id must be what GitHub says it is.
                if issues::is_pull(&item) != (kind == "pull") {
                    return Err(Error::not_found(format!("{id} is not a {kind}")));
                }
                issues::content(&base, &repo, &item)
            }
            "blob" => {
                let segments: Vec<String> =
                    rest.split('/').map(tributary_sdk::url::encode).collect();
                let url = format!("{base}/repos/{repo}/contents/{}", segments.join("/"));
                let meta = api::get_json(&url, None)?;
                let entry = Entry {
                    path: rest.to_string(),
                    sha: meta["sha"].as_str().unwrap_or("").to_string(),
                    size: meta["size"].as_u64(),
                };
                let repo_meta = api::get_json(&format!("{base}/repos/{repo}"), None)?;
                let branch = repo_meta["default_branch"].as_str().unwrap_or("main");
                let html = repo_meta["html_url"].as_str().unwrap_or("");
                tributary_forge::tree::resource(&entry, |e| {
                    walk::doc_ref(&base, &repo, branch, html, e)
                })
                .and_then(|r| r.content)
                .ok_or_else(|| Error::not_found(format!("{rest} is not a document")))
            }
            _ => Err(Error::not_found(format!(
                "{id}: releases come with the listing"
            ))),
        }
    }

    fn webhook(&mut self, config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        let repos = tributary_forge::named_repos(config, "repos", tributary_forge::MAX_REPOS)?;
        events::delivery(&req, &repos)
    }

    fn subscribe(
        &mut self,
        config: &Config,
        callback_url: &str,
        secret: &str,
    ) -> Result<Subscription, Error> {
        let base = api::base(config);
        let repos = walk::repos(&base, config)?;
        hooks::subscribe_all(&repos, |repo| {
            events::create_hook(&base, repo, callback_url, secret)
        })
    }

    fn unsubscribe(&mut self, config: &Config, subscription: &Subscription) -> Result<(), Error> {
        let base = api::base(config);
        hooks::unsubscribe_all(subscription, |repo, id| {
            events::delete_hook(&base, repo, id)
        })
    }
}

tributary_sdk::export!(Github);
