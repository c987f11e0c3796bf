//! SQLite's WAL checkpoints, moved off the commit path: with the default automatic
//! checkpoint, the commit that crosses 1,000 WAL pages copies them into the database and
//! syncs it twice before it returns, so every few hundred commits one caller (most often
//! a webhook delivery waiting for its 2xx) waits several milliseconds. Connections are
//! opened with automatic checkpoints off, and a background task runs a passive checkpoint,
//! which takes no writer lock, once a second.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::{AnyPool, Row};

/// How often the WAL is copied back into the database.
pub(super) const EVERY: Duration = Duration::from_secs(1);
/// WAL pages left behind (readers kept them in use) above which a warning is logged.
const WARN_PAGES: i64 = 100_000;

/// The pragma each SQLite connection runs when it opens.
pub(super) const PRAGMA: &str = "PRAGMA wal_autocheckpoint = 0";

/// Checkpoint `pool` every [`EVERY`] until `alive` has no strong reference left (the last
/// handle of the database was dropped).
pub(super) fn spawn(pool: AnyPool, alive: Weak<()>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            if alive.upgrade().is_none() {
                return;
            }
            match run(&pool).await {
                Ok((log, done)) if log - done > WARN_PAGES => {
                    tracing::warn!(log, done, "SQLite WAL checkpoint left many pages behind")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "SQLite WAL checkpoint failed"),
            }
        }
    });
}

/// One passive checkpoint: (pages in the WAL, pages copied into the database).
pub(super) async fn run(pool: &AnyPool) -> anyhow::Result<(i64, i64)> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(pool)
        .await?;
    Ok((row.try_get(1)?, row.try_get(2)?))
}

/// Keeps the checkpoint task running while any handle of the database lives.
pub(super) type Alive = Arc<()>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn works_when_commits_leave_the_wal_to_the_background_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::connect(&crate::db::Db::sqlite_url(&dir.path().join("c.db")))
            .await
            .unwrap();
        for i in 0..200 {
            sqlx::query("INSERT INTO webhook_deliveries (id, provider, received_at, outcome, state) VALUES ($1, 'p', 0, '{}', 'DONE')")
                .bind(format!("k{i}"))
                .execute(db.pool())
                .await
                .unwrap();
        }
        // Automatic checkpoints are off on every connection of the pool.
        let auto: i64 = sqlx::query("PRAGMA wal_autocheckpoint")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(auto, 0);
        // The commits are in the WAL (the background task may have copied them already,
        // but only a later write starts the WAL over), and a passive checkpoint copies them.
        let (log, done) = run(db.pool()).await.unwrap();
        assert!(log > 0, "the commits went to the WAL");
        assert_eq!(
            log, done,
            "a passive checkpoint with no reader copies every page"
        );
    }
}
