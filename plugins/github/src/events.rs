//! Repository webhooks: created by `subscribe` on every synced repository with the
//! subscription's secret, verified by `X-Hub-Signature-256` (HMAC-SHA256 of the raw
//! body), deduplicated by `X-GitHub-Delivery`, and turned into the one issue or pull
//! request to refetch; a push to the default branch or a release asks for a walk.

use serde_json::{Value, json};
use tributary_sdk::http::Method;
use tributary_sdk::prelude::*;
use tributary_sdk::signature::{header, verify_github};
use tributary_sdk::{Change, WebhookOutcome};

use crate::{api, issues};

/// The events a hook is created for.
pub const EVENTS: &[&str] = &[
    "issues",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "push",
    "release",
];

/// Interpret one delivery. `repos` are the repositories the integration syncs (empty:
/// all it can read).
pub fn delivery(req: &WebhookRequest, repos: &[String]) -> Result<WebhookOutcome, Error> {
    let Some(secret) = req.subscription_secret.as_deref() else {
        return Ok(WebhookOutcome::rejected());
    };
    let signed = header(&req.headers, "X-Hub-Signature-256")
        .is_some_and(|sig| verify_github(secret.as_bytes(), &req.body, sig));
    if !signed {
        return Ok(WebhookOutcome::rejected());
    }
    let event = header(&req.headers, "X-GitHub-Event").unwrap_or("");
    let mut out = WebhookOutcome::changes(Vec::new());
    if let Some(d) = header(&req.headers, "X-GitHub-Delivery") {
        out = out.delivery(d);
    }
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| Error::invalid_input(format!("a {event} delivery that is not JSON: {e}")))?;
    let repo = body["repository"]["full_name"].as_str().unwrap_or("");
    let ours = repos.is_empty() || repos.iter().any(|r| r.eq_ignore_ascii_case(repo));
    if event == "ping" || repo.is_empty() || !ours {
        return Ok(out);
    }
    let item = |key: &str, pull: bool| {
        body[key]["number"]
            .as_u64()
            .map(|n| issues::id(repo, pull, n))
    };
    let action = body["action"].as_str().unwrap_or("");
    match event {
        "issues" => {
            if let Some(id) = item("issue", false) {
                out.changes.push(match action {
                    "deleted" | "transferred" => Change::Delete(id),
                    _ => Change::Upsert(id),
                });
            }
        }
        "issue_comment" => {
            let pull = issues::is_pull(&body["issue"]);
            out.changes.extend(item("issue", pull).map(Change::Upsert));
        }
        "pull_request" | "pull_request_review" | "pull_request_review_comment" => {
            out.changes
                .extend(item("pull_request", true).map(Change::Upsert));
        }
        "push" => {
            let default = format!(
                "refs/heads/{}",
                body["repository"]["default_branch"].as_str().unwrap_or("")
            );
            out.sync_requested = body["ref"].as_str() == Some(default.as_str());
        }
        "release" => out.sync_requested = true,
        _ => {}
    }
    Ok(out)
}

/// Create (or, when one with this URL is there already, re-key) the hook of `repo`.
pub fn create_hook(base: &str, repo: &str, callback: &str, secret: &str) -> Result<String, Error> {
    let config = json!({
        "url": callback,
        "content_type": "json",
        "secret": secret,
        "insecure_ssl": "0",
    });
    let body = json!({"name": "web", "active": true, "events": EVENTS, "config": config});
    let url = format!("{base}/repos/{repo}/hooks");
    let resp = api::request(Method::Post, &url).json(&body).send()?;
    if resp.status() == 422 {
        // "Hook already exists on this repository": ours from an earlier connection.
        let hooks = api::all_pages(&format!("{url}?per_page=100"), 10)?;
        let existing = hooks
            .iter()
            .find(|h| h["config"]["url"].as_str() == Some(callback))
            .and_then(|h| h["id"].as_u64())
            .ok_or_else(|| Error::other(format!("GitHub refused the hook of {repo} (422)")))?;
        let patch = json!({"active": true, "events": EVENTS, "config": config});
        api::check(
            api::request(Method::Patch, &format!("{url}/{existing}"))
                .json(&patch)
                .send()?,
        )?;
        return Ok(existing.to_string());
    }
    let made: Value = api::check(resp)?.json()?;
    made["id"]
        .as_u64()
        .map(|id| id.to_string())
        .ok_or_else(|| Error::other("GitHub created a hook without an id"))
}

/// Remove hook `id` of `repo`.
pub fn delete_hook(base: &str, repo: &str, id: &str) -> Result<(), Error> {
    let url = format!(
        "{base}/repos/{repo}/hooks/{}",
        tributary_sdk::url::encode(id)
    );
    api::check(api::request(Method::Delete, &url).send()?).map(|_| ())
}
