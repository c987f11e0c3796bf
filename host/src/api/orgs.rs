//! `/api/organizations`: the organizations a caller belongs to (platform admins see all),
//! and their members: every member may list them; admins add, change and remove members
//! and admins; only owners (and platform admins) make or unmake owners; an organization
//! always keeps one owner.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ErrorBody;
use super::{ApiError, AppState, Payload};
use crate::db::{Org, Role, User};

/// One organization and the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    id: String,
    slug: String,
    plan: String,
    /// `member`, `admin` or `owner` (platform admins act as owners everywhere).
    role: String,
}

/// The caller's organizations.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationList {
    organizations: Vec<Membership>,
}

/// One member.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    user_id: String,
    email: String,
    role: String,
}

/// An organization's members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    members: Vec<Member>,
}

/// `PUT /api/organizations/{slug}/members`: add a user by email, or change their role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRequest {
    email: String,
    /// `member`, `admin` or `owner`.
    role: String,
}

/// The organizations `user` belongs to (every one, as owner, for platform admins).
pub async fn memberships(state: &AppState, user: &User) -> Result<Vec<Membership>, ApiError> {
    let view = |o: Org, role: Role| Membership {
        id: o.id,
        slug: o.slug,
        plan: o.plan,
        role: role.as_str().into(),
    };
    if user.is_admin {
        return Ok(state
            .db()
            .all_orgs()
            .await?
            .into_iter()
            .map(|o| view(o, Role::Owner))
            .collect());
    }
    Ok(state
        .db()
        .memberships_of(&user.id)
        .await?
        .into_iter()
        .map(|(o, r)| view(o, r))
        .collect())
}

/// The organization and the caller's role; strangers learn nothing about it.
async fn org_and_role(state: &AppState, user: &User, slug: &str) -> Result<(Org, Role), ApiError> {
    let hidden = || ApiError::NotFound(format!("no organization `{slug}`"));
    let org = state.db().org_by_slug(slug).await?.ok_or_else(hidden)?;
    let role = if user.is_admin {
        Some(Role::Owner)
    } else {
        state.db().role(&org.id, &user.id).await?
    };
    Ok((org, role.ok_or_else(hidden)?))
}

/// Whether `role` may move a member from `from` (none: not a member yet) to `to` (none:
/// removed).
fn may_manage(
    role: Role,
    from: Option<Role>,
    to: Option<Role>,
    slug: &str,
) -> Result<(), ApiError> {
    let touches_owner = from == Some(Role::Owner) || to == Some(Role::Owner);
    match role {
        Role::Owner => Ok(()),
        Role::Admin if !touches_owner => Ok(()),
        Role::Admin => Err(ApiError::Forbidden(format!(
            "only owners of `{slug}` make or unmake owners"
        ))),
        Role::Member => Err(ApiError::Forbidden(format!(
            "only admins and owners of `{slug}` manage its members"
        ))),
    }
}

async fn member_list(state: &AppState, org: &Org) -> Result<MemberList, ApiError> {
    let members = state.db().members(&org.id).await?;
    Ok(MemberList {
        members: members
            .into_iter()
            .map(|(u, r)| Member {
                user_id: u.id,
                email: u.email,
                role: r.as_str().into(),
            })
            .collect(),
    })
}

/// The caller's organizations and roles.
#[utoipa::path(get, path = "/api/organizations", tag = "organizations",
    responses((status = 200, body = OrganizationList), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<Json<OrganizationList>, ApiError> {
    Ok(Json(OrganizationList {
        organizations: memberships(&state, &user).await?,
    }))
}

/// An organization's members (any member may look).
#[utoipa::path(get, path = "/api/organizations/{slug}/members", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = MemberList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(slug): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    let (org, _) = org_and_role(&state, &user, &slug).await?;
    Ok(Json(member_list(&state, &org).await?))
}

/// Add a member or change a role (admins; owners for the owner role).
#[utoipa::path(put, path = "/api/organizations/{slug}/members", tag = "organizations", request_body = MemberRequest,
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = MemberList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such organization or user"), (status = 409, body = ErrorBody, description = "The last owner")))]
pub async fn put_member(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path(slug): Path<String>,
    body: Payload,
) -> Result<Json<MemberList>, ApiError> {
    let (org, role) = org_and_role(&state, &user, &slug).await?;
    if role == Role::Member {
        may_manage(role, None, None, &slug)?;
    }
    let req: MemberRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    let new_role = Role::parse(&req.role)
        .ok_or_else(|| ApiError::BadRequest("role must be `member`, `admin` or `owner`".into()))?;
    let email = req.email.trim().to_lowercase();
    let target = state.db().user_by_email(&email).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no user with email {email}; create the account first"
        ))
    })?;
    let current = state.db().role(&org.id, &target.id).await?;
    may_manage(role, current, Some(new_role), &slug)?;
    if new_role != Role::Owner {
        last_owner_guard(&state, &org, &target.id).await?;
    }
    state.db().set_member(&org, &target, new_role).await?;
    Ok(Json(member_list(&state, &org).await?))
}

/// Remove a member (admins; owners for an owner).
#[utoipa::path(delete, path = "/api/organizations/{slug}/members/{user_id}", tag = "organizations",
    params(("slug" = String, Path, description = "Organization slug"), ("user_id" = String, Path, description = "The member's user id")),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The last owner")))]
pub async fn delete_member(
    State(state): State<AppState>,
    Caller(user): Caller,
    Path((slug, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (org, role) = org_and_role(&state, &user, &slug).await?;
    let current = state.db().role(&org.id, &user_id).await?;
    may_manage(role, current, None, &slug)?;
    last_owner_guard(&state, &org, &user_id).await?;
    if !state.db().remove_member(&org.id, &user_id).await? {
        return Err(ApiError::NotFound(format!("no such member of `{slug}`")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// An organization without an owner could never be managed again.
async fn last_owner_guard(state: &AppState, org: &Org, user_id: &str) -> Result<(), ApiError> {
    let members = state.db().members(&org.id).await?;
    let owners: Vec<_> = members.iter().filter(|(_, r)| *r == Role::Owner).collect();
    if owners.len() == 1 && owners[0].0.id == user_id {
        return Err(ApiError::Conflict(format!(
            "{} is the last owner of `{}`; make someone else owner first",
            owners[0].0.email, org.slug
        )));
    }
    Ok(())
}
