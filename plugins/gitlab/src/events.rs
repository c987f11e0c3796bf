//! Project hooks: created by `subscribe` on every synced project with the subscription's
//! secret as the hook's token, verified by comparing `X-Gitlab-Token` in constant time
//! (GitLab sends the token itself, no signature), deduplicated by `Idempotency-Key`
//! (stable across GitLab's retries) or `X-Gitlab-Event-UUID`.

use serde_json::{Value, json};
use tributary_sdk::http::Method;
use tributary_sdk::prelude::*;
use tributary_sdk::signature::{header, verify_token};
use tributary_sdk::{Change, WebhookOutcome};

use crate::api;
use crate::issues::{self, Kind};

/// Interpret one delivery; `projects` are those the integration names (empty: all).
pub fn delivery(req: &WebhookRequest, projects: &[String]) -> Result<WebhookOutcome, Error> {
    let Some(secret) = req.subscription_secret.as_deref() else {
        return Ok(WebhookOutcome::rejected());
    };
    let given = header(&req.headers, "X-Gitlab-Token").unwrap_or("");
    if !verify_token(secret, given) {
        return Ok(WebhookOutcome::rejected());
    }
    let mut out = WebhookOutcome::changes(Vec::new());
    if let Some(d) = header(&req.headers, "Idempotency-Key")
        .or_else(|| header(&req.headers, "X-Gitlab-Event-UUID"))
    {
        out = out.delivery(d);
    }
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| Error::invalid_input(format!("a hook body that is not JSON: {e}")))?;
    let project = body["project"]["path_with_namespace"]
        .as_str()
        .unwrap_or("");
    let ours = projects.is_empty() || projects.iter().any(|p| p.eq_ignore_ascii_case(project));
    if project.is_empty() || !ours {
        return Ok(out);
    }
    let iid = |v: &Value| v["iid"].as_u64();
    match body["object_kind"].as_str().unwrap_or("") {
        "issue" | "work_item" => {
            if let Some(n) = iid(&body["object_attributes"]) {
                out.changes
                    .push(Change::Upsert(issues::id(project, Kind::Issue, n)));
            }
        }
        "merge_request" => {
            if let Some(n) = iid(&body["object_attributes"]) {
                out.changes
                    .push(Change::Upsert(issues::id(project, Kind::MergeRequest, n)));
            }
        }
        "note" => {
            let target = match body["object_attributes"]["noteable_type"].as_str() {
                Some("Issue") => iid(&body["issue"]).map(|n| (Kind::Issue, n)),
                Some("MergeRequest") => {
                    iid(&body["merge_request"]).map(|n| (Kind::MergeRequest, n))
                }
                _ => None,
            };
            if let Some((kind, n)) = target {
                out.changes
                    .push(Change::Upsert(issues::id(project, kind, n)));
            }
        }
        "push" => {
            let default = format!(
                "refs/heads/{}",
                body["project"]["default_branch"].as_str().unwrap_or("")
            );
            out.sync_requested = body["ref"].as_str() == Some(default.as_str());
        }
        "wiki_page" => out.sync_requested = true,
        _ => {}
    }
    Ok(out)
}

/// Create the hook of `project` with `token`.
pub fn create_hook(
    base: &str,
    project: &str,
    callback: &str,
    token: &str,
) -> Result<String, Error> {
    let body = json!({
        "url": callback,
        "token": token,
        "push_events": true,
        "issues_events": true,
        "merge_requests_events": true,
        "note_events": true,
        "wiki_page_events": true,
        "enable_ssl_verification": true,
    });
    let url = format!("{}/hooks", api::project(base, project));
    let made: Value = api::check(api::request(Method::Post, &url).json(&body).send()?)?.json()?;
    made["id"]
        .as_u64()
        .map(|id| id.to_string())
        .ok_or_else(|| Error::other("GitLab created a hook without an id"))
}

/// Remove hook `id` of `project`.
pub fn delete_hook(base: &str, project: &str, id: &str) -> Result<(), Error> {
    let url = format!(
        "{}/hooks/{}",
        api::project(base, project),
        tributary_sdk::url::encode(id)
    );
    api::check(api::request(Method::Delete, &url).send()?).map(|_| ())
}
