//! Assembling a host from a data dir: database, services, runtime, bundled plugins,
//! admin token; and serving the router until shutdown.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::api::{AppState, app};
use crate::credentials::MemoryCredentials;
use crate::db::Db;
use crate::runtime::{Limits, Runtime, RuntimeConfig};
use crate::services::{EgressLimits, Services};

/// Where a host keeps its state.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Data dir: SQLite file, plugins, compiled cache, key files.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; SQLite under the data dir otherwise.
    pub database_url: Option<String>,
    /// Let plugins reach private networks (development only).
    pub allow_private_egress: bool,
    /// Instance limits.
    pub limits: Limits,
}

impl HostConfig {
    /// Defaults for a data dir.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        HostConfig {
            data_dir: data_dir.into(),
            database_url: None,
            allow_private_egress: false,
            limits: Limits::default(),
        }
    }

    /// The plugins dir.
    pub fn plugins_dir(&self) -> PathBuf {
        self.data_dir.join("plugins")
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| Db::sqlite_url(&self.data_dir.join("tributary.db")))
    }
}

/// A host's parts, ready to serve.
pub struct Host {
    /// The runtime (and its services).
    pub runtime: Runtime,
    /// The admin bearer token.
    pub admin_token: String,
}

/// Write each bundled plugin into the plugins dir unless the admin replaced or removed
/// it; a marker remembers what we wrote, so a newer bundled build updates our own copy.
pub fn install_bundled(plugins_dir: &Path) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(plugins_dir)?;
    let mut written = Vec::new();
    for (file, bytes) in crate::bundled::BUNDLED {
        let path = plugins_dir.join(file);
        let marker = plugins_dir.join(format!(".bundled-{file}.sha256"));
        let ours = crate::runtime::sha256_hex(bytes);
        let previous = std::fs::read_to_string(&marker).ok();
        let on_disk = std::fs::read(&path)
            .ok()
            .map(|b| crate::runtime::sha256_hex(&b));
        let install = match (&on_disk, &previous) {
            (None, None) => true,
            (None, Some(_)) => false, // removed by an admin: respect it
            (Some(disk), Some(prev)) => disk == prev.trim() && disk != &ours,
            (Some(_), None) => false, // a file of the admin's own
        };
        if install {
            let tmp = plugins_dir.join(format!(".{file}.tmp"));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
            std::fs::write(&marker, &ours)?;
            written.push(file.to_string());
        }
    }
    Ok(written)
}

/// The admin token from `TRIBUTARY_ADMIN_TOKEN`, or a generated one in `admin-token` (0600).
pub fn admin_token(data_dir: &Path) -> anyhow::Result<String> {
    if let Ok(t) = std::env::var("TRIBUTARY_ADMIN_TOKEN")
        && !t.is_empty()
    {
        return Ok(t);
    }
    let path = data_dir.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&path) {
        return Ok(t.trim().to_string());
    }
    let token = format!("trb_admin_{}", hex::encode(rand::random::<[u8; 24]>()));
    write_private(&path, token.as_bytes())?;
    Ok(token)
}

/// Write a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

impl Host {
    /// Open (creating when missing) everything under the data dir and load the plugins.
    pub async fn open(config: &HostConfig) -> anyhow::Result<Host> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        let db = Db::connect(&config.database_url()).await?;
        let egress = EgressLimits {
            allow_private: config.allow_private_egress,
            ..EgressLimits::default()
        };
        let services = Services::new(db, egress, Arc::new(MemoryCredentials::default())).await?;
        install_bundled(&config.plugins_dir())?;
        let runtime = Runtime::new(
            RuntimeConfig {
                plugins_dir: config.plugins_dir(),
                cache_dir: config.data_dir.join("cache"),
                limits: config.limits.clone(),
            },
            services,
        )?;
        let report = runtime.scan().await?;
        for (file, reason) in &report.refused {
            tracing::error!(file, reason, "plugin refused");
        }
        Ok(Host {
            runtime,
            admin_token: admin_token(&config.data_dir)?,
        })
    }

    /// The application state for the router.
    pub fn state(&self) -> AppState {
        AppState {
            runtime: self.runtime.clone(),
            admin_token: Arc::new(self.admin_token.clone()),
        }
    }

    /// Serve on `listener` until `shutdown` resolves, watching the plugins dir.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.runtime.watch()?;
        axum::serve(listener, app(self.state()))
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}
