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

/// Sync workers per process: `TRIBUTARY_SYNC_WORKERS`, else two per core (walks wait
/// on the network most of the time), at least 2.
pub fn sync_workers() -> usize {
    std::env::var("TRIBUTARY_SYNC_WORKERS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            (cores * 2).max(2)
        })
}

/// How long the embedded index's owner may go without a heartbeat before another
/// instance may take the index over.
const INDEX_OWNER_STALE_MS: i64 = 60_000;
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
    /// Largest file the host downloads for a plugin (`body.download`).
    pub max_download_bytes: usize,
    /// Instance limits.
    pub limits: Limits,
    /// Base URL browsers and providers reach this server at (OAuth redirect URIs).
    pub public_url: String,
    /// Where browsers land after an OAuth callback; the public URL when unset.
    pub frontend_url: Option<String>,
    /// Vector store and embedder.
    pub index: IndexConfig,
    /// Bearer JWTs from an external issuer (`TRIBUTARY_JWT_*`).
    pub jwt: Option<crate::jwt::JwtConfig>,
}

impl HostConfig {
    /// Defaults for a data dir.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        HostConfig {
            data_dir: data_dir.into(),
            database_url: None,
            allow_private_egress: false,
            max_download_bytes: EgressLimits::default().max_download_bytes,
            limits: Limits::default(),
            public_url: "http://127.0.0.1:8080".into(),
            frontend_url: None,
            index: IndexConfig::default(),
            jwt: None,
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
    /// The data dir.
    pub data_dir: PathBuf,
    /// The webhook delivery log.
    pub webhooks: Arc<crate::webhooks::Intake>,
    /// Browser sessions and bearer JWTs.
    pub sign_in: Arc<crate::api::SignIn>,
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
            max_download_bytes: config.max_download_bytes,
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
        let webhooks = crate::webhooks::Intake::start(runtime.services().db.clone());
        let sign_in = Arc::new(crate::api::SignIn::new(
            public.starts_with("https://"),
            config.jwt.clone(),
        ));
        Ok(Host {
            runtime,
            vault,
            keyring,
            urls: Urls { public, frontend },
            ingest,
            data_dir: config.data_dir.clone(),
            webhooks,
            sign_in,
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
            webhooks: self.webhooks.clone(),
            sign_in: self.sign_in.clone(),
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

    /// On PostgreSQL, replicas share the database but each would write its own embedded
    /// index, splitting it silently: the first instance owns it (a heartbeat row), and
    /// another one is refused while the owner is alive. A Qdrant server is shared by all.
    /// `TRIBUTARY_ALLOW_SPLIT_INDEX=1` allows it for development (each replica then
    /// searches only what it indexed).
    async fn claim_embedded_index(&self) -> anyhow::Result<()> {
        let db = self.runtime.services().db.clone();
        if db.backend() != crate::db::Backend::Postgres
            || self.ingest.store().shared()
            || std::env::var("TRIBUTARY_ALLOW_SPLIT_INDEX").is_ok_and(|v| v == "1")
        {
            return Ok(());
        }
        let id_file = self.data_dir.join("instance-id");
        let instance = match std::fs::read_to_string(&id_file) {
            Ok(id) => id.trim().to_string(),
            Err(_) => {
                let id = uuid::Uuid::new_v4().to_string();
                std::fs::write(&id_file, &id)?;
                id
            }
        };
        if let Some(owner) = db
            .claim_index_owner(&instance, INDEX_OWNER_STALE_MS)
            .await?
        {
            anyhow::bail!(
                "another Tributary instance ({owner}) already serves this database with its own embedded \
                 vector index; a second one would split the index. Run one replica with the embedded \
                 index, or share a Qdrant server between replicas (QDRANT_URL)"
            );
        }
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(
                    INDEX_OWNER_STALE_MS as u64 / 6,
                ))
                .await;
                if let Err(e) = db.claim_index_owner(&instance, INDEX_OWNER_STALE_MS).await {
                    tracing::warn!(error = %format!("{e:#}"), "index owner heartbeat failed");
                }
            }
        });
        Ok(())
    }

    /// Serve on `listener` until `shutdown` resolves, watching the plugins dir.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.claim_embedded_index().await?;
        self.runtime.watch()?;
        crate::metrics::init();
        let workers = sync_workers();
        let config = EngineConfig::from_env(workers);
        tracing::info!(
            workers,
            per_provider = config.caps.per_provider,
            per_owner = config.caps.per_owner,
            slice = ?config.slice,
            "sync workers"
        );
        let engine = SyncEngine::new(self.runtime.clone(), self.ingest.clone(), config);
        let workers = Arc::new(engine).spawn(workers, SCHEDULER_TICK);
        let fanout =
            crate::webhooks::Fanout::new(self.runtime.services().db.clone(), &self.webhooks);
        let subscriptions = crate::webhooks::Subscriptions::new(
            self.runtime.clone(),
            &self.urls.public,
            self.keyring.clone(),
        );
        let (stop_hooks, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let fanout = tokio::spawn(fanout.run(until_stopped(stopped.clone())));
        let renewals = tokio::spawn(subscriptions.run(until_stopped(stopped)));
        axum::serve(listener, app(self.state()))
            .with_graceful_shutdown(shutdown)
            .await?;
        let _ = stop_hooks.send(true);
        let _ = tokio::join!(fanout, renewals);
        workers.stop().await;
        Ok(())
    }
}
