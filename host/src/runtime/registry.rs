//! Reconciling the registry with the plugins dir, and install/remove. A new or changed
//! file is compiled off the request path and swapped in atomically; a broken file is
//! refused and the version it would have replaced keeps serving; a removed file makes
//! its provider unavailable and leaves stored data alone.

use std::sync::Arc;

use super::{FileState, LoadError, LoadedPlugin, Registry, Runtime, is_plugin_file, now_ms};
use crate::db::PluginFileRow;

/// What a scan changed.
#[derive(Debug, Default, Clone)]
pub struct ScanReport {
    /// Provider ids loaded or replaced.
    pub loaded: Vec<String>,
    /// Files refused, with the reason.
    pub refused: Vec<(String, String)>,
    /// Provider ids removed with their file.
    pub removed: Vec<String>,
}

fn row(
    file: &str,
    sha: &str,
    plugin: Option<&LoadedPlugin>,
    error: Option<String>,
) -> PluginFileRow {
    PluginFileRow {
        file_name: file.into(),
        sha256: sha.into(),
        provider_id: plugin.map(|p| p.manifest.id.clone()),
        version: plugin.map(|p| p.manifest.version.clone()),
        status: if error.is_some() { "refused" } else { "active" }.into(),
        error,
        updated_at: now_ms(),
    }
}

impl Runtime {
    /// Bring the registry in line with the plugins dir.
    pub async fn scan(&self) -> anyhow::Result<ScanReport> {
        let _guard = self.0.reload.lock().await;
        let mut report = ScanReport::default();
        let mut on_disk = Vec::new();
        for entry in std::fs::read_dir(self.plugins_dir())? {
            let path = entry?.path();
            if path.is_file() && is_plugin_file(&path) {
                on_disk.push(path);
            }
        }
        on_disk.sort();
        for path in &on_disk {
            let file = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(file, error = %e, "cannot read plugin file");
                    continue;
                }
            };
            let sha = super::sha256_hex(&bytes);
            if self
                .0
                .registry
                .load()
                .files
                .get(&file)
                .is_some_and(|f| f.row.sha256 == sha)
            {
                continue;
            }
            match self.admit(&file, &sha, bytes).await {
                Ok(id) => report.loaded.push(id),
                Err(e) => report.refused.push((file, e.to_string())),
            }
        }
        let gone: Vec<String> = self
            .0
            .registry
            .load()
            .files
            .keys()
            .filter(|f| {
                !on_disk
                    .iter()
                    .any(|p| p.file_name().and_then(|n| n.to_str()) == Some(f.as_str()))
            })
            .cloned()
            .collect();
        for file in gone {
            if let Some(id) = self.forget(&file).await? {
                report.removed.push(id);
            }
        }
        Ok(report)
    }

    /// Load one file's bytes and swap the result in; record a refusal otherwise.
    async fn admit(&self, file: &str, sha: &str, bytes: Vec<u8>) -> Result<String, LoadError> {
        let result = self.load(file, bytes).await.and_then(|p| {
            let reg = self.0.registry.load();
            match reg.by_id.get(&p.manifest.id) {
                Some(other) if other.file_name != file => Err(LoadError::Duplicate {
                    file: file.into(),
                    id: p.manifest.id.clone(),
                    other: other.file_name.clone(),
                }),
                _ => Ok(p),
            }
        });
        let (new_row, outcome) = match result {
            Ok(plugin) => {
                let plugin = Arc::new(plugin);
                let id = plugin.manifest.id.clone();
                tracing::info!(file, plugin = %id, version = %plugin.manifest.version, "plugin loaded");
                let r = row(file, sha, Some(&plugin), None);
                self.swap(|reg| {
                    if let Some(old) = reg.files.get(file).and_then(|f| f.row.provider_id.clone())
                        && old != id
                    {
                        reg.by_id.remove(&old);
                    }
                    reg.by_id.insert(id.clone(), plugin.clone());
                    reg.files.insert(file.into(), FileState { row: r.clone() });
                });
                (r, Ok(id))
            }
            Err(e) => {
                tracing::error!(file, error = %e, "plugin refused; any previous version keeps serving");
                let current = self
                    .0
                    .registry
                    .load()
                    .files
                    .get(file)
                    .map(|f| f.row.clone());
                // Keep the active provider of this file (old version) visible in the row.
                let mut r = row(file, sha, None, Some(e.to_string()));
                if let Some(cur) =
                    current.filter(|c| c.status == "active" || c.provider_id.is_some())
                {
                    r.provider_id = cur.provider_id;
                    r.version = cur.version;
                }
                self.swap(|reg| {
                    reg.files.insert(file.into(), FileState { row: r.clone() });
                });
                (r, Err(e))
            }
        };
        if let Err(e) = self.0.services.db.upsert_plugin_file(&new_row).await {
            tracing::warn!(file, error = %e, "cannot record plugin file state");
        }
        outcome
    }

    /// Drop a file from the registry; returns the provider it provided.
    async fn forget(&self, file: &str) -> anyhow::Result<Option<String>> {
        let id = self
            .0
            .registry
            .load()
            .files
            .get(file)
            .and_then(|f| f.row.provider_id.clone());
        self.swap(|reg| {
            reg.files.remove(file);
            if let Some(id) = &id
                && reg.by_id.get(id).is_some_and(|p| p.file_name == file)
            {
                reg.by_id.remove(id);
            }
        });
        self.0.services.db.delete_plugin_file(file).await?;
        if let Some(id) = &id {
            tracing::info!(file, plugin = %id, "plugin removed; its stored data is kept");
        }
        Ok(id)
    }

    fn swap(&self, change: impl Fn(&mut Registry)) {
        self.0.registry.rcu(|current| {
            let mut next = Registry::clone(current);
            change(&mut next);
            next
        });
    }

    /// Validate `bytes` and install them as the file of the provider they declare
    /// (replacing that provider's file). Nothing is written when validation fails.
    pub async fn install(&self, bytes: Vec<u8>) -> Result<Arc<LoadedPlugin>, LoadError> {
        let _guard = self.0.reload.lock().await;
        let probe = self.load("upload.wasm", bytes.clone()).await?;
        let id = probe.manifest.id.clone();
        let file = self
            .get(&id)
            .map(|p| p.file_name.clone())
            .unwrap_or_else(|| format!("{id}.wasm"));
        let dir = self.plugins_dir();
        let tmp = dir.join(format!(".{file}.{}.tmp", uuid::Uuid::new_v4().simple()));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, dir.join(&file))?;
        let sha = super::sha256_hex(&bytes);
        self.admit(&file, &sha, bytes).await?;
        Ok(self.get(&id).expect("just installed"))
    }

    /// Remove the file of provider `id`; false when no such provider is loaded.
    pub async fn remove(&self, id: &str) -> anyhow::Result<bool> {
        let _guard = self.0.reload.lock().await;
        let Some(plugin) = self.get(id) else {
            return Ok(false);
        };
        match std::fs::remove_file(self.plugins_dir().join(&plugin.file_name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        self.forget(&plugin.file_name).await?;
        Ok(true)
    }
}
