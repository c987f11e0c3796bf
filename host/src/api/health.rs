//! `GET /health`: liveness plus database reachability and the number of loaded plugins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

/// Liveness, database reachability and the number of loaded plugins; 503 when the database is unreachable.
#[utoipa::path(get, path = "/health", tag = "health", security(()), responses((status = 200, description = "Healthy"), (status = 503, description = "Database unreachable")))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db_ok = state.runtime.services().db.ping().await;
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if db_ok { "ok" } else { "degraded" },
        "database": if db_ok { "ok" } else { "unreachable" },
        "plugins": state.runtime.plugins().len(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    (status, Json(body))
}
