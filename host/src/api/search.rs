//! `GET/POST /api/search`: ranked chunks of everything the caller may see (their own
//! integrations and their organizations'), hybrid when a dense embedder is configured.
//! The caller's owners go into the vector query's filter; the request's filters can
//! only narrow it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::{ApiError, AppState, Payload};
use crate::ingest::Search;

/// Most results one search returns.
const MAX_LIMIT: usize = 100;
/// Characters of a chunk shown as its snippet.
const SNIPPET: usize = 300;

/// A search.
#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The words to look for.
    q: String,
    /// Only this provider.
    provider: Option<String>,
    /// Only this integration (id).
    integration_id: Option<String>,
    /// Only resources modified at or after (ms since the epoch).
    from: Option<i64>,
    /// Only resources modified at or before (ms since the epoch).
    to: Option<i64>,
    /// Most results (default 10, at most 100).
    limit: Option<usize>,
}

/// One ranked chunk.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    score: f32,
    title: String,
    url: Option<String>,
    /// The chunk's beginning; empty for METADATA_ONLY integrations, which keep no text.
    snippet: String,
    provider: String,
    integration_id: String,
    external_id: String,
    kind: String,
    chunk_index: u64,
    updated_at: Option<i64>,
}

/// The results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// `hybrid` (BM25 + dense, fused by RRF) or `bm25`.
    mode: &'static str,
    results: Vec<SearchHit>,
}

/// Search with query parameters.
#[utoipa::path(get, path = "/api/search", tag = "search", params(SearchRequest),
    responses((status = 200, body = SearchResponse), (status = 400, body = super::error::ErrorBody, description = "No query"),
        (status = 401, body = super::error::ErrorBody, description = "Not signed in"),
        (status = 503, body = super::error::ErrorBody, description = "The vector store does not answer (code `unavailable`)")))]
pub async fn get_search(
    State(state): State<AppState>,
    caller: Caller,
    req: Result<Query<SearchRequest>, QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    // A malformed query string gets the API's error shape, not axum's plain text.
    let Query(req) = req.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    search(state, caller, req).await
}

/// Search with a JSON body (same fields as the query parameters).
#[utoipa::path(post, path = "/api/search", tag = "search", request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 400, body = super::error::ErrorBody, description = "No query or a bad body"),
        (status = 401, body = super::error::ErrorBody, description = "Not signed in"),
        (status = 403, body = super::error::ErrorBody, description = "A cookie write without the CSRF token"),
        (status = 503, body = super::error::ErrorBody, description = "The vector store does not answer (code `unavailable`)")))]
pub async fn post_search(
    State(state): State<AppState>,
    caller: Caller,
    body: Payload,
) -> Result<Json<SearchResponse>, ApiError> {
    let req: SearchRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    search(state, caller, req).await
}

async fn search(
    state: AppState,
    Caller(user): Caller,
    req: SearchRequest,
) -> Result<Json<SearchResponse>, ApiError> {
    if req.q.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "`q` must hold the words to search for".into(),
        ));
    }
    let limit = req.limit.unwrap_or(10);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "`limit` must be between 1 and {MAX_LIMIT}"
        )));
    }
    let mut owners = vec![format!("user:{}", user.id)];
    for org in state.db().org_ids_of(&user.id).await? {
        owners.push(format!("org:{org}"));
    }
    let query = crate::index::Query {
        owners,
        provider: req.provider,
        integration_id: req.integration_id,
        updated_from: req.from,
        updated_to: req.to,
        limit,
        ..Default::default()
    };
    // A vector store that does not answer becomes 503 `unavailable` (`ApiError::from`).
    let hits = state.ingest.search(Search { text: req.q, query }).await?;
    let results = hits
        .into_iter()
        .map(|h| SearchHit {
            score: h.score,
            snippet: h
                .meta
                .text
                .as_deref()
                .map(|t| t.chars().take(SNIPPET).collect())
                .unwrap_or_default(),
            title: h.meta.title,
            url: h.meta.url,
            provider: h.meta.provider,
            integration_id: h.meta.integration_id,
            external_id: h.meta.external_id,
            kind: h.meta.kind,
            chunk_index: h.meta.chunk_index,
            updated_at: h.meta.updated_at,
        })
        .collect();
    let mode = if state.ingest.is_hybrid() {
        "hybrid"
    } else {
        "bm25"
    };
    Ok(Json(SearchResponse { mode, results }))
}
