//! The REST API: `app(state)` builds the router; one module per resource.

mod error;
mod health;
mod plugins;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, put};
use subtle::ConstantTimeEq;

pub use error::ApiError;
pub use plugins::PluginView;

use crate::runtime::Runtime;

/// Largest request body outside plugin uploads.
pub const MAX_BODY: usize = 1 << 20;
/// Largest plugin upload.
pub const MAX_PLUGIN_UPLOAD: usize = 64 << 20;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The plugin runtime (and through it the host services).
    pub runtime: Runtime,
    /// Bearer token for `/api/admin/*` until accounts and roles exist.
    pub admin_token: Arc<String>,
}

async fn require_admin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if given.is_empty() || !bool::from(given.as_bytes().ct_eq(state.admin_token.as_bytes())) {
        return Err(ApiError::Unauthorized);
    }
    Ok(next.run(req).await)
}

/// The application router.
pub fn app(state: AppState) -> Router {
    let admin = Router::new()
        .route(
            "/plugins",
            get(plugins::list)
                .post(plugins::install)
                .layer(DefaultBodyLimit::max(MAX_PLUGIN_UPLOAD)),
        )
        .route("/plugins/{id}", get(plugins::show).delete(plugins::remove))
        .route(
            "/providers/{id}/settings",
            put(plugins::put_settings).get(plugins::get_settings),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .route("/health", get(health::health))
        .nest("/api/admin", admin)
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
