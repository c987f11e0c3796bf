//! `GET /health` (liveness, database, vector store, queue lag) and `GET /metrics`
//! (Prometheus text, platform admins only: it names providers and shows load).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;
use super::auth::Admin;
use super::error::ApiError;

/// Due jobs waiting longer than this make `/health` say `degraded`
/// (`TRIBUTARY_HEALTH_QUEUE_WAIT_MS`, default 5 minutes).
fn queue_wait_threshold_ms() -> i64 {
    std::env::var("TRIBUTARY_HEALTH_QUEUE_WAIT_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v: &i64| *v > 0)
        .unwrap_or(5 * 60_000)
}

/// Liveness, database and vector store reachability, queue lag and the number of loaded
/// plugins: 503 when the database is unreachable; `degraded` (200) with the reason when
/// the vector store does not answer (syncs wait, search fails, the rest works) or due
/// jobs wait longer than the threshold (workers stuck or too few).
#[utoipa::path(get, path = "/health", tag = "health", security(()),
    responses((status = 200, body = HealthView, description = "Healthy or degraded (see `status` and `reasons`)"),
        (status = 503, body = HealthView, description = "Database unreachable")))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthView>) {
    let db = state.db();
    let (db_ok, index) = tokio::join!(db.ping(), state.ingest.store().health());
    let mut reasons = Vec::new();
    let mut oldest_due_ms = None;
    if let Err(e) = &index {
        reasons.push(format!("{e:#}"));
    }
    if !db_ok {
        reasons.push("the database is unreachable".to_string());
    } else if let Ok(q) = db.queue_snapshot().await {
        oldest_due_ms = Some(q.oldest_due_wait_ms);
        let limit = queue_wait_threshold_ms();
        if q.oldest_due_wait_ms > limit {
            reasons.push(format!(
                "the oldest due sync job has waited {} s (threshold {} s): workers are busy or stuck",
                q.oldest_due_wait_ms / 1000,
                limit / 1000
            ));
        }
    }
    let body = HealthView {
        status: if reasons.is_empty() { "ok" } else { "degraded" },
        reasons,
        database: if db_ok { "ok" } else { "unreachable" },
        index: if index.is_ok() { "ok" } else { "unreachable" },
        oldest_due_job_wait_ms: oldest_due_ms,
        plugins: state.runtime.plugins().len(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let code = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// `GET /health`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// `ok` or `degraded`.
    status: &'static str,
    /// Why it is degraded.
    reasons: Vec<String>,
    /// `ok` or `unreachable`.
    database: &'static str,
    /// The vector store: `ok` or `unreachable`.
    index: &'static str,
    /// How long the oldest due job has waited.
    oldest_due_job_wait_ms: Option<i64>,
    /// Plugins loaded.
    plugins: usize,
    /// The host's version.
    version: &'static str,
}

/// Prometheus metrics of this process and of the shared queue (platform admins).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "OpenMetrics text format (Prometheus scrapes it)", content_type = "application/openmetrics-text"),
    (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn metrics(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<impl IntoResponse, ApiError> {
    let q = state.db().queue_snapshot().await?;
    // Every live status, priority and provider appears, 0 included, so a gauge that
    // dropped to nothing does not keep its last value.
    let mut queue = Vec::new();
    for status in ["PENDING", "RUNNING", "DEAD"] {
        for priority in [1, 2, 5] {
            let n = q
                .by_status
                .iter()
                .find(|(s, p, _)| s == status && *p == priority)
                .map_or(0, |(_, _, n)| *n);
            queue.push((status.to_string(), priority, n));
        }
    }
    let mut running: Vec<(String, i64)> = state
        .runtime
        .plugins()
        .iter()
        .map(|p| (p.manifest.id.clone(), 0))
        .collect();
    for (provider, n) in &q.running {
        match running.iter_mut().find(|(p, _)| p == provider) {
            Some(r) => r.1 = *n,
            None => running.push((provider.clone(), *n)),
        }
    }
    let text = crate::metrics::render(&crate::metrics::Snapshot {
        queue,
        oldest_due_seconds: q.oldest_due_wait_ms as f64 / 1000.0,
        running,
        pool: (
            state.runtime.instances_in_use(),
            state.runtime.limits().pool_instances,
        ),
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}
