//! Who is calling: a bearer API key resolves to a user; platform admins pass the admin
//! gate; integration routes resolve to an owner the caller may read or change.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::db::{Owner, Role, User};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub User);

/// The user a request's bearer API key belongs to.
pub async fn caller(state: &AppState, headers: &axum::http::HeaderMap) -> Result<User, ApiError> {
    let key = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| k.starts_with("trb_") && k.len() < 200)
        .ok_or(ApiError::Unauthorized)?;
    state
        .db()
        .user_by_api_key(key)
        .await?
        .ok_or(ApiError::Unauthorized)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Caller(caller(state, &parts.headers).await?))
    }
}

/// A platform admin.
#[derive(Debug, Clone)]
pub struct Admin(pub User);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Caller(user) = Caller::from_request_parts(parts, state).await?;
        if !user.is_admin {
            return Err(ApiError::Forbidden(
                "this endpoint is for platform admins".into(),
            ));
        }
        Ok(Admin(user))
    }
}

/// What the caller wants to do with an owner's integrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// See them.
    Read,
    /// Change them.
    Write,
}

/// The owner an integration route addresses, checked against the caller, and its plan.
pub async fn scope(
    state: &AppState,
    caller: &User,
    org_slug: Option<&str>,
    access: Access,
) -> Result<(Owner, String), ApiError> {
    let Some(slug) = org_slug else {
        return Ok((Owner::User(caller.id.clone()), caller.plan.clone()));
    };
    // Strangers learn nothing about whether an organization exists.
    let hidden = || ApiError::NotFound(format!("no organization `{slug}`"));
    let org = state.db().org_by_slug(slug).await?.ok_or_else(hidden)?;
    let role = if caller.is_admin {
        Some(Role::Owner)
    } else {
        state.db().role(&org.id, &caller.id).await?
    };
    match (role, access) {
        (None, _) => Err(hidden()),
        (Some(Role::Member), Access::Write) => Err(ApiError::Forbidden(format!(
            "only owners and admins of `{slug}` change its integrations"
        ))),
        (Some(_), _) => Ok((Owner::Org(org.id), org.plan)),
    }
}
