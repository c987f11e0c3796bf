//! `POST /api/integrations/{provider}/actions/{action}`: run a write the provider's plugin
//! declares (send a message, create a draft) with the integration's credentials. Only on
//! this explicit call by a user who may change the integration, never during a sync, and
//! only for actions an admin enabled; the input is validated against the action's JSON
//! Schema before the plugin sees it, and every run is recorded in the job log.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{Access, Caller, scope};
use super::error::ErrorBody;
use super::integrations::find;
use super::{ApiError, AppState, Payload};
use crate::db::status;
use crate::model::Auth;
use crate::runtime::Integration;
use crate::scopes;

/// Validation errors reported back, at most.
const MAX_REPORTED: usize = 10;

async fn run(
    state: AppState,
    caller: Caller,
    org: Option<String>,
    provider: String,
    action: String,
    body: Payload,
) -> Result<Json<ActionResult>, ApiError> {
    let (owner, _) = scope(&state, &caller.0, org.as_deref(), Access::Write).await?;
    let integration = find(&state, &owner, &provider).await?;
    if integration.status == status::TOKEN_EXPIRED {
        return Err(ApiError::Conflict(format!(
            "`{provider}` needs to be reconnected before it can run actions"
        )));
    }
    let plugin = state
        .runtime
        .get(&provider)
        .ok_or_else(|| ApiError::NotFound(format!("`{provider}` is not installed")))?;
    let declared = plugin
        .manifest
        .actions
        .iter()
        .find(|a| a.name == action)
        .ok_or_else(|| ApiError::NotFound(format!("`{provider}` declares no action `{action}`")))?;
    let entry = state.db().registry_entry(&provider).await?;
    if !entry.enabled {
        return Err(ApiError::ActionDisabled(format!(
            "an admin has disabled `{provider}`"
        )));
    }
    if !entry.enabled_actions.contains(&action) {
        return Err(ApiError::ActionDisabled(format!(
            "an admin has not enabled `{action}` for `{provider}`"
        )));
    }
    if let Auth::Oauth2(o) = &plugin.manifest.auth {
        let needed = scopes::for_action(&o.scopes, &action);
        let granted = state
            .db()
            .credential(&integration.id)
            .await?
            .map(|c| c.scopes)
            .unwrap_or_default();
        if let Some(missing) = needed.iter().find(|s| !granted.contains(s)) {
            return Err(ApiError::Conflict(format!(
                "`{action}` needs the scope {missing}, which this connection was not granted: reconnect `{provider}`"
            )));
        }
    }
    let input: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the input is not JSON: {e}")))?;
    // The manifest's schema was checked at load; a failure here is the plugin's bug.
    let schema: Value = serde_json::from_str(&declared.input_schema)
        .map_err(|e| anyhow::anyhow!("action schema of {provider}/{action}: {e}"))?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| anyhow::anyhow!("action schema of {provider}/{action}: {e}"))?;
    let problems: Vec<String> = validator
        .iter_errors(&input)
        .take(MAX_REPORTED)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if !problems.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "the input does not match the schema of `{action}`: {}",
            problems.join("; ")
        )));
    }
    let mut session = state
        .runtime
        .session(
            &provider,
            Some(Integration::new(
                &integration.id,
                integration.config_pairs(),
            )),
        )
        .await?;
    tracing::info!(provider, integration = %integration.id, action, user = %caller.0.id, "running action");
    let outcome = session.run_action(&action, &input.to_string()).await;
    let error = outcome.as_ref().err().map(|e| e.to_string());
    let job = state
        .db()
        .record_action(
            &integration.id,
            &provider,
            &action,
            &caller.0.id,
            error.as_deref(),
        )
        .await?;
    // Validated as JSON by the session.
    let result: Value = serde_json::from_str(&outcome?).unwrap_or(Value::Null);
    Ok(Json(ActionResult {
        action,
        job_id: job,
        result,
    }))
}

/// What an action run answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResult {
    action: String,
    /// The job log entry recording the run.
    job_id: String,
    /// The action's own JSON answer.
    result: Value,
}

/// Run a declared action of a connected integration.
#[utoipa::path(post, path = "/api/integrations/{provider}/actions/{action}", tag = "integrations",
    params(("provider" = String, Path, description = "Provider id"), ("action" = String, Path, description = "Action name")),
    request_body(content = Object, description = "Input, valid against the action's JSON Schema"),
    responses((status = 200, body = ActionResult, description = "The action's JSON answer"), (status = 400, body = ErrorBody, description = "Input does not match the schema"),
        (status = 401, body = ErrorBody, description = "No or bad API key"), (status = 403, body = ErrorBody, description = "The action is not enabled"),
        (status = 404, body = ErrorBody, description = "Not connected or no such action"), (status = 409, body = ErrorBody, description = "Reconnect needed")))]
pub async fn post_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((provider, action)): Path<(String, String)>,
    body: Payload,
) -> Result<Json<ActionResult>, ApiError> {
    run(state, caller, None, provider, action, body).await
}

/// Run a declared action of an organization's integration (admins and owners).
#[utoipa::path(post, path = "/api/organizations/{slug}/integrations/{provider}/actions/{action}", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug"), ("provider" = String, Path, description = "Provider id"),
        ("action" = String, Path, description = "Action name")),
    request_body(content = Object, description = "Input, valid against the action's JSON Schema"),
    responses((status = 200, body = ActionResult, description = "The action's JSON answer"), (status = 400, body = ErrorBody, description = "Input does not match the schema"),
        (status = 403, body = ErrorBody, description = "Members may only read, or the action is not enabled"),
        (status = 404, body = ErrorBody, description = "Not connected or no such action"), (status = 409, body = ErrorBody, description = "Reconnect needed")))]
pub async fn org_post_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, provider, action)): Path<(String, String, String)>,
    body: Payload,
) -> Result<Json<ActionResult>, ApiError> {
    run(state, caller, Some(slug), provider, action, body).await
}
