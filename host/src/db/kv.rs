//! Plugin key/value rows. Keys are stored as bytes so prefix scans are byte ranges on
//! both backends, independent of collation.

use sqlx::Row;

use super::{Db, now_ms};

/// The smallest byte string greater than every string starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl Db {
    /// The value of `key` for `integration`.
    pub async fn kv_get(&self, integration: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT value FROM plugin_kv WHERE integration_id = $1 AND key = $2")
            .bind(integration)
            .bind(key.as_bytes().to_vec())
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.get::<Vec<u8>, _>(0)))
    }

    /// Store `value` under `key` for `integration`.
    pub async fn kv_set(&self, integration: &str, key: &str, value: &[u8]) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO plugin_kv (integration_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (integration_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(integration)
        .bind(key.as_bytes().to_vec())
        .bind(value.to_vec())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Remove `key` for `integration`.
    pub async fn kv_delete(&self, integration: &str, key: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM plugin_kv WHERE integration_id = $1 AND key = $2")
            .bind(integration)
            .bind(key.as_bytes().to_vec())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How many keys `integration` holds.
    pub async fn kv_count(&self, integration: &str) -> anyhow::Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM plugin_kv WHERE integration_id = $1")
            .bind(integration)
            .fetch_one(self.pool())
            .await?;
        Ok(row.get::<i64, _>(0))
    }

    /// Keys and bytes (keys + values) `integration` holds, not counting `except`.
    pub async fn kv_usage(&self, integration: &str, except: &str) -> anyhow::Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0) FROM plugin_kv \
             WHERE integration_id = $1 AND key <> $2",
        )
        .bind(integration)
        .bind(except.as_bytes().to_vec())
        .fetch_one(self.pool())
        .await?;
        Ok((row.get::<i64, _>(0), row.get::<i64, _>(1)))
    }

    /// Keys of `integration` starting with `prefix`, in byte order, at most `limit`.
    pub async fn kv_list(
        &self,
        integration: &str,
        prefix: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<String>> {
        let start = prefix.as_bytes().to_vec();
        let rows = match prefix_end(&start) {
            Some(end) => {
                sqlx::query(
                    "SELECT key FROM plugin_kv WHERE integration_id = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4",
                )
                .bind(integration)
                .bind(start)
                .bind(end)
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query("SELECT key FROM plugin_kv WHERE integration_id = $1 ORDER BY key LIMIT $2")
                    .bind(integration)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.into_iter()
            .map(|r| Ok(String::from_utf8(r.get::<Vec<u8>, _>(0))?))
            .collect()
    }

    /// Remove every key of `integration` (when it is deleted).
    pub async fn kv_purge(&self, integration: &str) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM plugin_kv WHERE integration_id = $1")
            .bind(integration)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn works_when_computing_prefix_ranges() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xff]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
