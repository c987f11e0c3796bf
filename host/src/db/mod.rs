//! Storage through sqlx's `Any` driver: SQLite by default, PostgreSQL when the URL says
//! so. Each backend has its own migrations under `migrations/`; queries use `$n`
//! placeholders, which both accept.

mod accounts;
mod checkpoint;
mod deliveries;
mod integrations;
mod jobs;
mod kv;
mod plugins;
mod queue;
mod sealed;
mod sign_in;
mod subscriptions;
mod synced;

use std::path::Path;

use anyhow::Context;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use accounts::{Org, Role, User, hash_key};
pub use deliveries::{Delivery, DeliveryWork, NewDelivery, Target, delivery_state};
pub use integrations::{Connect, Integration, Owner, RegistryEntry, config_pairs, status};
pub use jobs::{Stats, SyncJob};
pub use plugins::PluginFileRow;
pub use queue::{Caps, QueueSnapshot, job_status};
pub use sealed::{CredentialRow, OauthState};
pub use sign_in::SessionRow;
pub use subscriptions::{SubscriptionRow, subscription_state};
pub use synced::{Held, PageWrite, SyncedRecord};

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file under the data dir.
    Sqlite,
    /// A shared server (scale-out).
    Postgres,
}

/// The database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Wakes this process's idle workers when it queues a job (other processes find it
    /// at their next poll).
    queued: std::sync::Arc<tokio::sync::Notify>,
    /// Taken around the webhook path's write transactions on SQLite, which has one
    /// writer: a waiter here wakes the moment the lock is free, where SQLite's busy
    /// handler would sleep 1 to 100 ms between tries.
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// On SQLite, the background checkpoint runs while any handle lives.
    _checkpoints: Option<checkpoint::Alive>,
}

/// `$from, …, $(from + n - 1)`: a numbered parameter list (sqlx's Any driver takes `$N`
/// on both backends).
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rows` copies of `row` joined by commas, its `?`s numbered `$1`, `$2`, … in order:
/// the `VALUES` of a multi-row insert. Every `?` counts, so `row` holds no `?` literal.
pub(crate) fn numbered_rows(row: &str, rows: usize) -> String {
    let mut n = 0;
    let mut out = String::with_capacity((row.len() + 8) * rows);
    for i in 0..rows {
        if i > 0 {
            out.push_str(", ");
        }
        for part in row.split_inclusive('?') {
            match part.strip_suffix('?') {
                Some(text) => {
                    n += 1;
                    out.push_str(text);
                    out.push_str(&format!("${n}"));
                }
                None => out.push_str(part),
            }
        }
    }
    out
}

/// The statement as `backend` binds it fastest. SQLite keeps a list of named
/// parameters and finds each by walking it, so binding a statement of n `$N`
/// parameters costs n² steps (1,792 parameters: about 3 ms); anonymous `?` parameters
/// are not in that list. So on SQLite, a statement whose `$N` run 1, 2, 3, … in order,
/// each once, gets `?` instead (the same binding order); any other stays as it is.
pub(crate) fn positional(sql: &str, backend: Backend) -> std::borrow::Cow<'_, str> {
    if backend == Backend::Postgres || !sql.contains('$') {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1usize;
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if rest[at + 1..at + 1 + digits].parse::<usize>().ok() != Some(expected) {
            return sql.into();
        }
        out.push('?');
        expected += 1;
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
    out.into()
}

/// The backend a connection talks to.
pub(crate) fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

/// A new time-ordered row id (a UUIDv7): rows written together land next to each other
/// at the end of the primary-key index, where random ids would dirty one page each. Ids
/// made by this process only ever rise (RFC 9562's counter in `rand_a`, 4,096 a
/// millisecond before borrowing the next one): deliveries are fanned out in id order
/// within a millisecond, and a delete followed by an upsert must stay in that order.
pub fn ordered_id() -> String {
    static LAST: std::sync::Mutex<(u64, u16)> = std::sync::Mutex::new((0, 0));
    let (ms, seq) = {
        let mut last = LAST.lock().expect("id clock");
        let now = now_ms() as u64;
        *last = match *last {
            (ms, _) if now > ms => (now, 0),
            (ms, seq) if seq < 0x0fff => (ms, seq + 1),
            (ms, _) => (ms + 1, 0),
        };
        *last
    };
    let mut bytes = rand::random::<[u8; 10]>();
    // The builder keeps the low 4 bits of the first byte and all of the second as `rand_a`.
    bytes[0] = (seq >> 8) as u8;
    bytes[1] = seq as u8;
    uuid::Builder::from_unix_timestamp_millis(ms, &bytes)
        .into_uuid()
        .to_string()
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Db {
    /// Resolves when this process queues a job (or at once if one was queued since the
    /// last wake-up nobody took).
    pub async fn job_queued(&self) {
        self.queued.notified().await;
    }

    /// Tell idle workers a job is waiting.
    pub(crate) fn wake_workers(&self) {
        self.queued.notify_waiters();
    }

    /// The SQLite URL for a file (created when missing).
    pub fn sqlite_url(path: &Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    /// Connect and apply the migrations of the URL's backend.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("unsupported database URL (use sqlite:// or postgres://)");
        };
        // SQLite serialises writers; a small pool avoids lock contention errors.
        let max = if backend == Backend::Sqlite { 4 } else { 16 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            // A local file needs no health check (one more worker-thread round trip per
            // acquire); a server connection does.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        // WAL + NORMAL survives a killed process (only an OS crash can
                        // lose the last commits) and saves an fsync per commit.
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query(checkpoint::PRAGMA).execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .context("connecting to the database")?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        };
        migrator
            .run(&pool)
            .await
            .context("applying database migrations")?;
        let checkpoints = (backend == Backend::Sqlite).then(|| {
            let alive = checkpoint::Alive::default();
            checkpoint::spawn(pool.clone(), std::sync::Arc::downgrade(&alive));
            alive
        });
        Ok(Db {
            pool,
            backend,
            queued: Default::default(),
            write_turn: Default::default(),
            _checkpoints: checkpoints,
        })
    }

    /// This process's turn to write, on SQLite (PostgreSQL takes concurrent writers).
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_turn.lock().await),
            Backend::Postgres => None,
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for modules that own their queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Is the database reachable?
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_parameters_are_numbered_in_order() {
        assert_eq!(
            numbered_rows("(?, 'x?y', ?)", 2),
            "($1, 'x$2y', $3), ($4, 'x$5y', $6)",
            "every `?` counts, quoted or not: templates keep `?` out of literals"
        );
        assert_eq!(numbered_rows("(?, 1, ?)", 2), "($1, 1, $2), ($3, 1, $4)");
        assert_eq!(placeholders(4, 3), "$4, $5, $6");
        assert_eq!(
            positional("VALUES ($1, $2), ($3, $4)", Backend::Sqlite),
            "VALUES (?, ?), (?, ?)"
        );
        assert_eq!(
            positional("VALUES ($1, $2), ($3, $4)", Backend::Postgres),
            "VALUES ($1, $2), ($3, $4)"
        );
        for kept in [
            "SET a = $2 WHERE b = $1",
            "($1, $2), ($1, $3)",
            "x = $",
            "$1 $3",
        ] {
            assert_eq!(positional(kept, Backend::Sqlite), kept, "{kept}");
        }
        assert!(
            ordered_id() < {
                std::thread::sleep(std::time::Duration::from_millis(2));
                ordered_id()
            }
        );
    }

    #[test]
    fn works_when_ids_made_in_one_millisecond_keep_their_order() {
        let ids: Vec<String> = (0..10_000).map(|_| ordered_id()).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "every id above the last"
        );
        let parsed = uuid::Uuid::parse_str(&ids[0]).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
    }
}
