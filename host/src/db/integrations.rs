//! Integrations (owned by a user or an organization), the admin registry and sync-job
//! records.

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;

use super::{Db, now_ms};

/// Who owns an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A user's personal integration.
    User(String),
    /// An organization's integration.
    Org(String),
}

impl Owner {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Owner::User(id) => ("user", id),
            Owner::Org(id) => ("org", id),
        }
    }
}

/// Integration statuses (seed 004's status flow).
pub mod status {
    /// Syncing normally.
    pub const ACTIVE: &str = "ACTIVE";
    /// Paused by a user.
    pub const PAUSED: &str = "PAUSED";
    /// Failing repeatedly.
    pub const ERROR: &str = "ERROR";
    /// Waiting out a provider rate limit.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// Credentials rejected and not refreshable.
    pub const TOKEN_EXPIRED: &str = "TOKEN_EXPIRED";
    /// Disconnected by a user.
    pub const DISCONNECTED: &str = "DISCONNECTED";
}

/// One integration row.
#[derive(Debug, Clone, Serialize)]
pub struct Integration {
    /// Id.
    pub id: String,
    /// `user` or `org`.
    pub owner_kind: String,
    /// User or organization id.
    pub owner_id: String,
    /// Provider id.
    pub provider: String,
    /// One of [`status`].
    pub status: String,
    /// `FULL_CONTENT` or `METADATA_ONLY`.
    pub storage_strategy: String,
    /// `REALTIME`, `FIFTEEN_MIN`, `HOURLY`, `DAILY` or `MANUAL`.
    pub sync_frequency: String,
    /// Provider settings.
    pub config: Map<String, Value>,
    /// External account id.
    pub account_id: Option<String>,
    /// External account name.
    pub account_name: Option<String>,
    /// Last completed sync, ms.
    pub last_sync_at: Option<i64>,
    /// Last error message.
    pub last_error: Option<String>,
    /// Webhook registration id at the provider.
    pub webhook_id: Option<String>,
    /// User who connected it.
    pub connected_by: String,
    /// When, ms.
    pub connected_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
}

const COLUMNS: &str = "id, owner_kind, owner_id, provider, status, storage_strategy, sync_frequency, config, \
    account_id, account_name, last_sync_at, last_error, webhook_id, connected_by, connected_at, updated_at";

fn integration(r: &sqlx::any::AnyRow) -> anyhow::Result<Integration> {
    Ok(Integration {
        id: r.get(0),
        owner_kind: r.get(1),
        owner_id: r.get(2),
        provider: r.get(3),
        status: r.get(4),
        storage_strategy: r.get(5),
        sync_frequency: r.get(6),
        config: serde_json::from_str(&r.get::<String, _>(7))?,
        account_id: r.get(8),
        account_name: r.get(9),
        last_sync_at: r.get(10),
        last_error: r.get(11),
        webhook_id: r.get(12),
        connected_by: r.get(13),
        connected_at: r.get(14),
        updated_at: r.get(15),
    })
}

impl Integration {
    /// The config as the string pairs plugins receive.
    pub fn config_pairs(&self) -> Vec<(String, String)> {
        config_pairs(&self.config)
    }
}

/// Config values as strings (numbers and booleans in their JSON form).
pub fn config_pairs(config: &Map<String, Value>) -> Vec<(String, String)> {
    config
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect()
}

/// What connecting writes.
pub struct Connect<'a> {
    /// Owner.
    pub owner: &'a Owner,
    /// Provider id.
    pub provider: &'a str,
    /// Connecting user.
    pub user_id: &'a str,
    /// Settings.
    pub config: &'a Map<String, Value>,
    /// External account id and name.
    pub account: (&'a str, &'a str),
}

/// A provider's registry entry.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RegistryEntry {
    /// Provider id.
    pub provider: String,
    /// Offered at all.
    pub enabled: bool,
    /// Plans it is offered to; empty means every plan.
    pub allowed_plans: Vec<String>,
    /// Config every new integration starts from.
    pub default_config: Map<String, Value>,
    /// Declared actions users may run (none until an admin enables one).
    #[serde(default)]
    pub enabled_actions: Vec<String>,
}

impl RegistryEntry {
    /// The entry a provider has before an admin touches it.
    pub fn default_for(provider: &str) -> Self {
        RegistryEntry {
            provider: provider.into(),
            enabled: true,
            allowed_plans: vec![],
            default_config: Map::new(),
            enabled_actions: vec![],
        }
    }

    /// Is it offered to `plan`?
    pub fn offered_to(&self, plan: &str) -> bool {
        self.enabled
            && (self.allowed_plans.is_empty() || self.allowed_plans.iter().any(|p| p == plan))
    }
}

impl Db {
    /// Create or reconnect an integration (status back to ACTIVE).
    pub async fn connect_integration(&self, c: Connect<'_>) -> anyhow::Result<Integration> {
        let (kind, owner_id) = c.owner.parts();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO integrations (id, owner_kind, owner_id, provider, status, config, account_id, account_name, \
             connected_by, connected_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (owner_kind, owner_id, provider) DO UPDATE SET status = excluded.status, config = excluded.config, \
             account_id = excluded.account_id, account_name = excluded.account_name, connected_by = excluded.connected_by, \
             last_error = NULL, updated_at = excluded.updated_at",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(kind)
        .bind(owner_id)
        .bind(c.provider)
        .bind(status::ACTIVE)
        .bind(Value::Object(c.config.clone()).to_string())
        .bind(c.account.0)
        .bind(c.account.1)
        .bind(c.user_id)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?;
        self.integration(c.owner, c.provider)
            .await?
            .ok_or_else(|| anyhow::anyhow!("integration vanished"))
    }

    /// The owner's integration with a provider.
    pub async fn integration(
        &self,
        owner: &Owner,
        provider: &str,
    ) -> anyhow::Result<Option<Integration>> {
        let (kind, id) = owner.parts();
        let sql = format!(
            "SELECT {COLUMNS} FROM integrations WHERE owner_kind = $1 AND owner_id = $2 AND provider = $3"
        );
        let row = sqlx::query(&sql)
            .bind(kind)
            .bind(id)
            .bind(provider)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(integration).transpose()
    }

    /// An integration by id.
    pub async fn integration_by_id(&self, id: &str) -> anyhow::Result<Option<Integration>> {
        let sql = format!("SELECT {COLUMNS} FROM integrations WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(integration).transpose()
    }

    /// Integrations of `provider` connected to the external account `account_id` (a
    /// per-app webhook names the account; several owners may have connected it).
    pub async fn integrations_by_account(
        &self,
        provider: &str,
        account_id: &str,
    ) -> anyhow::Result<Vec<Integration>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM integrations WHERE provider = $1 AND account_id = $2 AND status <> $3 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(provider)
            .bind(account_id)
            .bind(status::DISCONNECTED)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(integration).collect()
    }

    /// The owner's integrations that are not disconnected.
    pub async fn integrations(&self, owner: &Owner) -> anyhow::Result<Vec<Integration>> {
        let (kind, id) = owner.parts();
        let sql = format!(
            "SELECT {COLUMNS} FROM integrations WHERE owner_kind = $1 AND owner_id = $2 AND status <> $3 ORDER BY provider"
        );
        let rows = sqlx::query(&sql)
            .bind(kind)
            .bind(id)
            .bind(status::DISCONNECTED)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(integration).collect()
    }

    /// Every integration (admins), optionally in one status, newest change first.
    pub async fn all_integrations(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<Integration>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM integrations WHERE ($1 IS NULL OR status = $1) ORDER BY updated_at DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(status)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(integration).collect()
    }

    /// Change settings. A changed `config` changes what is synced: the sync token and
    /// last sync are forgotten and a queued walk restarts from the beginning, so the next
    /// walk is full (and its end removes what is no longer in scope). True when the
    /// config changed.
    pub async fn update_integration_settings(
        &self,
        id: &str,
        config: &Map<String, Value>,
        storage_strategy: &str,
        sync_frequency: &str,
    ) -> anyhow::Result<bool> {
        // Read outside the transaction: on SQLite a transaction that reads before it
        // writes cannot wait for the write lock ("database is locked").
        let before: Option<String> = sqlx::query("SELECT config FROM integrations WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.get(0));
        let changed = before
            .and_then(|b| serde_json::from_str::<Value>(&b).ok())
            .is_none_or(|b| b != Value::Object(config.clone()));
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "UPDATE integrations SET config = $1, storage_strategy = $2, sync_frequency = $3, updated_at = $4, \
             sync_token = CASE WHEN $6 = 1 THEN NULL ELSE sync_token END, \
             last_sync_at = CASE WHEN $6 = 1 THEN NULL ELSE last_sync_at END, \
             config_changed_at = CASE WHEN $6 = 1 THEN $4 ELSE config_changed_at END WHERE id = $5",
        )
        .bind(Value::Object(config.clone()).to_string())
        .bind(storage_strategy)
        .bind(sync_frequency)
        .bind(now_ms())
        .bind(id)
        .bind(changed as i64)
        .execute(&mut *tx)
        .await?;
        if changed {
            sqlx::query(
                "UPDATE sync_jobs SET cursor = NULL, mode = 'full', pages = 0 WHERE integration_id = $1 \
                 AND status = 'PENDING' AND mode <> 'resource'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Set the status (and the last error, cleared on ACTIVE).
    pub async fn set_integration_status(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE integrations SET status = $1, last_error = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(status)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The registry entry of a provider (defaults when an admin never set one).
    pub async fn registry_entry(&self, provider: &str) -> anyhow::Result<RegistryEntry> {
        let row = sqlx::query("SELECT enabled, allowed_plans, default_config, enabled_actions FROM integration_registry WHERE provider = $1")
            .bind(provider)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            None => RegistryEntry::default_for(provider),
            Some(r) => RegistryEntry {
                provider: provider.into(),
                enabled: r.get::<i64, _>(0) != 0,
                allowed_plans: serde_json::from_str(&r.get::<String, _>(1))?,
                default_config: serde_json::from_str(&r.get::<String, _>(2))?,
                enabled_actions: serde_json::from_str(&r.get::<String, _>(3))?,
            },
        })
    }

    /// Save a registry entry.
    pub async fn put_registry_entry(&self, e: &RegistryEntry) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO integration_registry (provider, enabled, allowed_plans, default_config, updated_at, enabled_actions) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider) DO UPDATE SET enabled = excluded.enabled, \
             allowed_plans = excluded.allowed_plans, default_config = excluded.default_config, updated_at = excluded.updated_at, \
             enabled_actions = excluded.enabled_actions",
        )
        .bind(&e.provider)
        .bind(e.enabled as i64)
        .bind(serde_json::to_string(&e.allowed_plans)?)
        .bind(Value::Object(e.default_config.clone()).to_string())
        .bind(now_ms())
        .bind(serde_json::to_string(&e.enabled_actions)?)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
