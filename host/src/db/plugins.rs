//! Rows about plugin files and provider settings, so every replica and the admin API see
//! which files were loaded or refused and why.

use std::collections::HashMap;

use sqlx::Row;

use super::{Db, now_ms};
use crate::services::ProviderSettings;

/// One plugin file's state.
#[derive(Debug, Clone, serde::Serialize, PartialEq, utoipa::ToSchema)]
pub struct PluginFileRow {
    /// File name in the plugins dir.
    pub file_name: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// The provider it declares, when it loaded.
    pub provider_id: Option<String>,
    /// The provider's version, when it loaded.
    pub version: Option<String>,
    /// `active` or `refused`.
    pub status: String,
    /// Why it was refused.
    pub error: Option<String>,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
}

impl Db {
    /// Record a plugin file's state.
    pub async fn upsert_plugin_file(&self, row: &PluginFileRow) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO plugin_files (file_name, sha256, provider_id, version, status, error, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (file_name) DO UPDATE SET sha256 = excluded.sha256, \
             provider_id = excluded.provider_id, version = excluded.version, status = excluded.status, \
             error = excluded.error, updated_at = excluded.updated_at",
        )
        .bind(&row.file_name)
        .bind(&row.sha256)
        .bind(&row.provider_id)
        .bind(&row.version)
        .bind(&row.status)
        .bind(&row.error)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Forget a plugin file that was removed.
    pub async fn delete_plugin_file(&self, file_name: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM plugin_files WHERE file_name = $1")
            .bind(file_name)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every recorded plugin file.
    pub async fn plugin_files(&self) -> anyhow::Result<Vec<PluginFileRow>> {
        let rows = sqlx::query(
            "SELECT file_name, sha256, provider_id, version, status, error, updated_at FROM plugin_files ORDER BY file_name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| PluginFileRow {
                file_name: r.get(0),
                sha256: r.get(1),
                provider_id: r.get(2),
                version: r.get(3),
                status: r.get(4),
                error: r.get(5),
                updated_at: r.get(6),
            })
            .collect())
    }

    /// Every provider's saved admin settings.
    pub async fn load_provider_settings(
        &self,
    ) -> anyhow::Result<HashMap<String, ProviderSettings>> {
        let rows = sqlx::query("SELECT provider_id, settings FROM provider_settings")
            .fetch_all(self.pool())
            .await?;
        let mut out = HashMap::new();
        for r in rows {
            let id: String = r.get(0);
            let json: String = r.get(1);
            out.insert(id, serde_json::from_str(&json)?);
        }
        Ok(out)
    }

    /// Save one provider's admin settings.
    pub async fn save_provider_settings(
        &self,
        provider: &str,
        settings: &ProviderSettings,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO provider_settings (provider_id, settings, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (provider_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        )
        .bind(provider)
        .bind(serde_json::to_string(settings)?)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
