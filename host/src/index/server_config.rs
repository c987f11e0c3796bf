//! The Qdrant server backend's settings: where the server is and how the collection is
//! made, from `QDRANT_*`.

use std::time::Duration;

use anyhow::Context;

use super::server_req;

/// Where the server is and how the collection is made. Its `Debug` leaves the API key
/// and any credentials in the URL out.
#[derive(Clone, PartialEq)]
pub struct ServerConfig {
    /// gRPC URL (`http://qdrant:6334`, `https://…` for TLS).
    pub url: String,
    /// `QDRANT_API_KEY`.
    pub api_key: Option<String>,
    /// `QDRANT_COLLECTION` (default `tributary`).
    pub collection: String,
    /// `QDRANT_SHARDS`.
    pub shards: Option<u32>,
    /// `QDRANT_REPLICATION`.
    pub replication: Option<u32>,
    /// `QDRANT_WRITE_CONSISTENCY`.
    pub write_consistency: Option<u32>,
    /// `QDRANT_WRITE_ORDERING` (`weak`, `medium`, `strong`; default `medium`).
    pub ordering: String,
    /// `QDRANT_TIMEOUT_SECS` (default 30): every request, writes' waits included.
    pub timeout: Duration,
}

impl ServerConfig {
    /// The server at `url` with the defaults, read from the other `QDRANT_*` variables.
    pub fn from_env(url: &str) -> anyhow::Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let num = |k: &str| -> anyhow::Result<Option<u32>> {
            var(k)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .with_context(|| format!("{k}={v}: a positive whole number"))
                })
                .transpose()
        };
        let config = Self {
            url: url.to_string(),
            api_key: var("QDRANT_API_KEY"),
            collection: var("QDRANT_COLLECTION").unwrap_or_else(|| "tributary".into()),
            shards: num("QDRANT_SHARDS")?,
            replication: num("QDRANT_REPLICATION")?,
            write_consistency: num("QDRANT_WRITE_CONSISTENCY")?,
            ordering: var("QDRANT_WRITE_ORDERING").unwrap_or_else(|| "medium".into()),
            timeout: Duration::from_secs(num("QDRANT_TIMEOUT_SECS")?.unwrap_or(30).into()),
        };
        server_req::ordering(&config.ordering)?;
        Ok(config)
    }

    /// The same server with the defaults.
    pub fn new(url: &str, collection: &str) -> Self {
        Self {
            url: url.to_string(),
            api_key: None,
            collection: collection.to_string(),
            shards: None,
            replication: None,
            write_consistency: None,
            ordering: "medium".into(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &super::redacted(&self.url))
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("collection", &self.collection)
            .field("shards", &self.shards)
            .field("replication", &self.replication)
            .field("write_consistency", &self.write_consistency)
            .field("ordering", &self.ordering)
            .field("timeout", &self.timeout)
            .finish()
    }
}
