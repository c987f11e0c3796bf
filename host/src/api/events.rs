//! `GET /api/events`: a server-sent event stream of sync-job progress for every
//! integration the caller may see (their own and their organizations'). It reads the
//! queue's own records, which every worker checkpoints after each page, so it shows
//! jobs run by any host process sharing the database, not only this one's.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::db::{SyncJob, now_ms};

/// How often the stream looks for progress.
const POLL: Duration = Duration::from_millis(500);

/// What makes a job's event worth sending again.
type Seen = (String, i64, i64, i64, i64);

fn fingerprint(j: &SyncJob) -> Seen {
    (
        j.status.clone(),
        j.resources_found,
        j.resources_synced,
        j.resources_failed,
        j.attempts,
    )
}

/// Stream `job` events (one JSON sync job each) as jobs are queued, progress page by
/// page, and finish.
#[utoipa::path(get, path = "/api/events", tag = "events",
    responses((status = 200, description = "text/event-stream of `job` events, each a `SyncJob` as JSON", content_type = "text/event-stream"),
        (status = 401, body = super::error::ErrorBody, description = "Not signed in")))]
pub async fn stream(
    State(state): State<AppState>,
    Caller(user): Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let since = now_ms();
    let first = state.db().visible_jobs(&user.id, since).await?;
    let seen: HashMap<String, Seen> = HashMap::new();
    let events = futures::stream::unfold(
        (state, user.id, seen, Some(first)),
        move |(state, user, mut seen, ready)| async move {
            let mut jobs = ready;
            loop {
                let batch = match jobs.take() {
                    Some(b) => b,
                    None => {
                        tokio::time::sleep(POLL).await;
                        match state.db().visible_jobs(&user, since).await {
                            Ok(b) => b,
                            Err(e) => {
                                tracing::warn!(error = %format!("{e:#}"), "event stream query failed");
                                continue;
                            }
                        }
                    }
                };
                let changed: Vec<Event> = batch
                    .iter()
                    .filter(|j| seen.get(&j.id) != Some(&fingerprint(j)))
                    .filter_map(|j| Event::default().event("job").json_data(j).ok())
                    .collect();
                for j in &batch {
                    seen.insert(j.id.clone(), fingerprint(j));
                }
                if !changed.is_empty() {
                    let out = futures::stream::iter(changed.into_iter().map(Ok));
                    return Some((out, (state, user, seen, None)));
                }
            }
        },
    );
    use futures::StreamExt;
    Ok(Sse::new(events.flatten()).keep_alive(KeepAlive::default()))
}
