//! The one API error type: a stable machine-readable code, a clear message, the right
//! status, and never internal details or secrets.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::runtime::{CallError, LoadError};

/// Every error the REST API returns, as `{"error": {"code", "message"}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or wrong credentials.
    #[error("missing or invalid credentials: send an API key or a bearer token, or sign in")]
    Unauthorized,
    /// A sign-in with a wrong email or password (or a spent sign-in link).
    #[error("{0}")]
    BadCredentials(String),
    /// A cookie-authenticated write without the session's CSRF token.
    #[error("missing or wrong X-CSRF-Token header for this session")]
    Csrf,
    /// Too many attempts; the message says when to try again.
    #[error("{0}")]
    TooManyRequests(String),
    /// A webhook whose signature the provider's plugin did not verify.
    #[error("the webhook signature did not verify")]
    InvalidSignature,
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The provider declares the action, but an admin has not enabled it.
    #[error("{0}")]
    ActionDisabled(String),
    /// Nothing here (or nothing the caller may see).
    #[error("{0}")]
    NotFound(String),
    /// The request is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the endpoint accepts.
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// A plugin file was refused.
    #[error(transparent)]
    PluginRefused(#[from] LoadError),
    /// The provider's plugin failed or refused (connect, check).
    #[error(transparent)]
    Plugin(#[from] CallError),
    /// A dependency is down for now; the caller may try again.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an outage; details go to the log only.
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        // The vector store being down is an outage the caller may wait out, not a bug.
        match e.downcast_ref::<crate::index::Unavailable>() {
            Some(down) => ApiError::Unavailable(down.to_string()),
            None => ApiError::Internal(e),
        }
    }
}

impl ApiError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadCredentials(_) => "invalid_credentials",
            ApiError::Csrf => "csrf",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::InvalidSignature => "invalid_signature",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::ActionDisabled(_) => "action_disabled",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::PluginRefused(LoadError::WitVersion { .. }) => "plugin_wit_version",
            ApiError::PluginRefused(LoadError::Duplicate { .. }) => "plugin_duplicate",
            ApiError::PluginRefused(_) => "plugin_invalid",
            ApiError::Plugin(e) => e.code(),
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        use crate::model::PluginError as P;
        match self {
            ApiError::Unauthorized | ApiError::InvalidSignature | ApiError::BadCredentials(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden(_) | ApiError::ActionDisabled(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::PluginRefused(LoadError::Duplicate { .. }) => StatusCode::CONFLICT,
            ApiError::PluginRefused(LoadError::Io(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::PluginRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Plugin(CallError::NotInstalled(_)) => StatusCode::NOT_FOUND,
            ApiError::Plugin(CallError::Plugin(
                P::Unauthorized(_) | P::InvalidConfig(_) | P::InvalidInput(_) | P::NotFound(_),
            )) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Plugin(CallError::Plugin(P::RateLimited(_))) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Plugin(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = %format!("{e:#}"), "internal error");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.to_string(),
            },
        };
        (self.status(), Json(body)).into_response()
    }
}

/// Every error response's body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// An error's stable code and its message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`unauthorized`, `not_found`, `csrf`, …).
    pub code: String,
    /// What happened and what to do about it.
    pub message: String,
}
