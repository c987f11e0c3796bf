//! Assembling a host from a data dir: database, services, runtime, bundled plugins,
//! key ring, vault; and serving the router until shutdown.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::api::{AppState, Urls, app};
use crate::crypto::Keyring;
use crate::db::Db;
use crate::ingest::{IndexConfig, Ingestor};
use crate::runtime::{Limits, Runtime, RuntimeConfig};
use crate::services::{EgressLimits, Services};
use crate::sync::{EngineConfig, SyncEngine};
use crate::vault::Vault;

/// Sync workers per process.
const SYNC_WORKERS: usize = 4;
/// How often the scheduler looks for due integrations.
const SCHEDULER_TICK: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// Base URL browsers and providers reach this server at (OAuth redirect URIs).
    pub public_url: String,
    /// Where browsers land after an OAuth callback; the public URL when unset.
    pub frontend_url: Option<String>,
    /// Vector store and embedder.
    pub index: IndexConfig,
}

impl HostConfig {
    /// Defaults for a data dir.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        HostConfig {
            data_dir: data_dir.into(),
            database_url: None,
            allow_private_egress: false,
            limits: Limits::default(),
            public_url: "http://127.0.0.1:8080".into(),
            frontend_url: None,
            index: IndexConfig::default(),
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
    /// Sealed credentials.
    pub vault: Arc<Vault>,
    /// Encryption keys.
    pub keyring: Arc<Keyring>,
    /// Public URLs.
    pub urls: Urls,
    /// Ingestion and search.
    pub ingest: Arc<Ingestor>,
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
        let keyring = Arc::new(Keyring::open(&config.data_dir)?);
        let vault = Arc::new(Vault::new(db.clone(), keyring.clone()));
        let services = Services::new(db, egress, vault.clone()).await?;
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
        vault.attach(runtime.downgrade());
        let public = config.public_url.trim_end_matches('/').to_string();
        let frontend = config
            .frontend_url
            .clone()
            .unwrap_or_else(|| format!("{public}/"));
        url::Url::parse(&frontend).with_context(|| format!("frontend URL {frontend:?}"))?;
        url::Url::parse(&public).with_context(|| format!("public URL {public:?}"))?;
        let ingest = config.index.open(&config.data_dir).await?;
        Ok(Host {
            runtime,
            vault,
            keyring,
            urls: Urls { public, frontend },
            ingest,
        })
    }

    /// The application state for the router.
    pub fn state(&self) -> AppState {
        AppState {
            runtime: self.runtime.clone(),
            vault: self.vault.clone(),
            keyring: self.keyring.clone(),
            urls: Arc::new(self.urls.clone()),
            ingest: self.ingest.clone(),
        }
    }

    /// Re-seal every secret under a new key: generate and save it, re-encrypt credentials,
    /// OAuth client secrets and pending OAuth states. Readers keep working throughout:
    /// old values open with the old key, which stays in the ring.
    pub async fn rotate_keys(&self) -> anyhow::Result<(String, usize)> {
        let id = self.keyring.rotate()?;
        let mut n = self.vault.reseal_all().await?;
        let db = &self.runtime.services().db;
        for (provider, client_id, sealed) in db.all_oauth_clients().await? {
            let ctx = format!("oauth-client:{provider}");
            let plain = self.keyring.open_sealed(&ctx, &sealed)?;
            db.put_oauth_client(&provider, &client_id, &self.keyring.seal(&ctx, &plain)?)
                .await?;
            n += 1;
        }
        for (hash, sealed) in db.all_oauth_states().await? {
            let ctx = format!("oauth-state:{hash}");
            let plain = self.keyring.open_sealed(&ctx, &sealed)?;
            db.reseal_oauth_state(&hash, &self.keyring.seal(&ctx, &plain)?)
                .await?;
            n += 1;
        }
        Ok((id, n))
    }

    /// Serve on `listener` until `shutdown` resolves, watching the plugins dir.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.runtime.watch()?;
        let mut config = EngineConfig::default();
        // How long a crashed worker's job stays claimed before another worker takes it over.
        if let Some(ms) = std::env::var("TRIBUTARY_SYNC_LEASE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.lease = std::time::Duration::from_millis(ms);
        }
        let engine = SyncEngine::new(self.runtime.clone(), self.ingest.clone(), config);
        Arc::new(engine).spawn(SYNC_WORKERS, SCHEDULER_TICK);
        axum::serve(listener, app(self.state()))
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}
