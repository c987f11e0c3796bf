//! Who is calling: a bearer API key (scripts), a bearer JWT from a configured issuer
//! (products with their own users), or a browser session cookie, whose writes must echo
//! the session's CSRF token; platform admins pass the admin gate; integration routes
//! resolve to an owner the caller may read or change.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::db::{Owner, Role, User};
use crate::jwt::JwtVerifier;

/// The header cookie-authenticated writes carry the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub User);

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The user behind a request: bearer credentials first, else the session cookie (and,
/// for anything but a read, the CSRF token that session was given). A session found is
/// left in the request's extensions for handlers that show it.
pub async fn caller(state: &AppState, parts: &mut Parts) -> Result<User, ApiError> {
    if let Some(value) = parts.headers.get(AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        if token.starts_with("trb_") && token.len() < 200 {
            return state
                .db()
                .user_by_api_key(token)
                .await?
                .ok_or(ApiError::Unauthorized);
        }
        if let Some(jwt) = &state.sign_in.jwt
            && JwtVerifier::looks_like_jwt(token)
        {
            return super::session::jwt_user(state, jwt, token).await;
        }
        return Err(ApiError::Unauthorized);
    }
    let id = cookie(&parts.headers, state.sign_in.cookie_name()).ok_or(ApiError::Unauthorized)?;
    let session = state
        .db()
        .session(id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if !parts.method.is_safe() {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(sent.ct_eq(session.csrf.as_bytes())) {
            return Err(ApiError::Csrf);
        }
    }
    let user = session.user.clone();
    parts.extensions.insert(session);
    Ok(user)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Caller(caller(state, parts).await?))
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
