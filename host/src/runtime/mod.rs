//! The plugin runtime: loads provider components from the plugins dir, keeps the set of
//! loaded plugins behind an atomic swap (calls in flight keep the version they started
//! with), and hands out [`Session`]s to run them.

mod engine;
mod error;
mod loader;
mod session;
mod state;
pub mod validate;
mod watcher;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use engine::{EPOCH_TICK, Limits};
pub use error::{CallError, LoadError};
pub use loader::sha256_hex;
pub use session::Session;
pub use state::{CallContext, Integration, PluginState};

use crate::bindings::PluginPre;
use crate::db::{PluginFileRow, now_ms};
use crate::model::Manifest;
use crate::services::Services;

/// A compiled, validated plugin ready to instantiate.
pub struct LoadedPlugin {
    /// Its manifest.
    pub manifest: Arc<Manifest>,
    /// SHA-256 of the file it came from.
    pub sha256: String,
    /// File name in the plugins dir.
    pub file_name: String,
    /// True when the compiled artifact came from the on-disk cache (no compilation).
    pub from_cache: bool,
    pub(crate) pre: PluginPre,
}

/// What happened to one file during a scan or install.
#[derive(Debug, Clone)]
struct FileState {
    row: PluginFileRow,
}

#[derive(Default, Clone)]
struct Registry {
    by_id: HashMap<String, Arc<LoadedPlugin>>,
    files: BTreeMap<String, FileState>,
}

/// Where the runtime keeps its files.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Directory of `*.wasm` plugin files (watched).
    pub plugins_dir: PathBuf,
    /// Directory of compiled artifacts.
    pub cache_dir: PathBuf,
    /// Per-instance limits.
    pub limits: Limits,
}

struct Inner {
    engine: Engine,
    linker: Linker<PluginState>,
    config: RuntimeConfig,
    services: Arc<Services>,
    registry: ArcSwap<Registry>,
    /// Serialises scans and installs; calls never take it.
    reload: tokio::sync::Mutex<()>,
    /// One permit per instance the pool holds; a session holds one while it lives.
    slots: Arc<tokio::sync::Semaphore>,
    watcher: std::sync::Mutex<Option<watcher::Watcher>>,
}

/// The plugin runtime (cheap to clone).
#[derive(Clone)]
pub struct Runtime(Arc<Inner>);

/// A handle that does not keep the runtime alive (for services the runtime owns).
#[derive(Clone)]
pub struct WeakRuntime(std::sync::Weak<Inner>);

impl WeakRuntime {
    /// The runtime, while it exists.
    pub fn upgrade(&self) -> Option<Runtime> {
        self.0.upgrade().map(Runtime)
    }
}

fn is_plugin_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    !name.starts_with('.') && name.ends_with(".wasm")
}

impl Runtime {
    /// Create the runtime (engine, linker, epoch ticker); call [`Runtime::scan`] to load.
    pub fn new(config: RuntimeConfig, services: Arc<Services>) -> anyhow::Result<Runtime> {
        let engine = engine::build_engine(&config.limits)?;
        engine::spawn_epoch_ticker(engine.weak());
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        crate::bindings::add_to_linker(&mut linker)?;
        std::fs::create_dir_all(&config.plugins_dir)?;
        std::fs::create_dir_all(&config.cache_dir)?;
        let pool = config.limits.pool_instances as usize;
        Ok(Runtime(Arc::new(Inner {
            engine,
            linker,
            config,
            services,
            registry: ArcSwap::from_pointee(Registry::default()),
            reload: tokio::sync::Mutex::new(()),
            slots: Arc::new(tokio::sync::Semaphore::new(pool)),
            watcher: std::sync::Mutex::new(None),
        })))
    }

    /// A handle that does not keep the runtime alive.
    pub fn downgrade(&self) -> WeakRuntime {
        WeakRuntime(Arc::downgrade(&self.0))
    }

    /// The shared host services.
    pub fn services(&self) -> &Arc<Services> {
        &self.0.services
    }

    /// The per-instance limits.
    pub fn limits(&self) -> &Limits {
        &self.0.config.limits
    }

    /// Instances in use now (sessions alive), of [`Limits::pool_instances`].
    pub fn instances_in_use(&self) -> usize {
        self.limits().pool_instances as usize - self.0.slots.available_permits()
    }

    /// The plugins directory.
    pub fn plugins_dir(&self) -> &Path {
        &self.0.config.plugins_dir
    }

    /// The loaded plugin with this id.
    pub fn get(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        self.0.registry.load().by_id.get(id).cloned()
    }

    /// Every loaded plugin, by id.
    pub fn plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        let mut all: Vec<_> = self.0.registry.load().by_id.values().cloned().collect();
        all.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
        all
    }

    /// The state of every plugin file (loaded or refused, and why).
    pub fn files(&self) -> Vec<PluginFileRow> {
        self.0
            .registry
            .load()
            .files
            .values()
            .map(|f| f.row.clone())
            .collect()
    }

    /// Start a session (one store, one instance) of plugin `id` for `integration`.
    pub async fn session(
        &self,
        id: &str,
        integration: Option<Integration>,
    ) -> Result<Session, CallError> {
        let plugin = self
            .get(id)
            .ok_or_else(|| CallError::NotInstalled(id.to_string()))?;
        if let Err(e) = self.0.services.refresh_settings().await {
            // The last settings read stay in force; the next session tries again.
            tracing::warn!(error = %format!("{e:#}"), "re-reading provider settings failed");
        }
        Session::start(
            plugin,
            self.limits(),
            self.0.services.clone(),
            integration,
            self.0.slots.clone(),
        )
        .await
    }

    /// Compile, link and validate a file's bytes into a plugin.
    async fn load(&self, file: &str, bytes: Vec<u8>) -> Result<LoadedPlugin, LoadError> {
        let engine = self.0.engine.clone();
        let cache_dir = self.0.config.cache_dir.clone();
        let file_owned = file.to_string();
        let (component, sha256, from_cache, version) = tokio::task::spawn_blocking(move || {
            loader::compile(&engine, &cache_dir, &file_owned, &bytes)
        })
        .await
        .map_err(|e| LoadError::Invalid {
            file: file.into(),
            reason: format!("compiler task failed: {e}"),
        })??;
        let pre = self
            .0
            .linker
            .instantiate_pre(&component)
            .and_then(|pre| PluginPre::new(version, pre))
            .map_err(|e| LoadError::Link {
                file: file.into(),
                reason: format!("{e:#}"),
            })?;
        let placeholder = Arc::new(placeholder_manifest());
        let probe = Arc::new(LoadedPlugin {
            manifest: placeholder,
            sha256: sha256.clone(),
            file_name: file.into(),
            from_cache,
            pre: pre.clone(),
        });
        let manifest = async {
            let slots = self.0.slots.clone();
            let services = self.0.services.clone();
            let mut s = Session::start(probe, self.limits(), services, None, slots).await?;
            s.manifest().await
        }
        .await
        .map_err(|e| LoadError::Manifest {
            file: file.into(),
            reason: e.to_string(),
        })?;
        Ok(LoadedPlugin {
            manifest: Arc::new(manifest),
            sha256,
            file_name: file.into(),
            from_cache,
            pre,
        })
    }
}

/// The manifest a plugin runs under while its own `manifest()` is being called: no hosts,
/// no permissions (manifest() must not call imports anyway).
fn placeholder_manifest() -> Manifest {
    use crate::model::*;
    Manifest {
        id: "loading".into(),
        name: "loading".into(),
        description: String::new(),
        icon: String::new(),
        category: Category::Other,
        version: "0".into(),
        auth: Auth::None,
        injection: Injection::Bearer,
        capabilities: Capabilities {
            pull: false,
            incremental: false,
            webhooks: false,
            subscribe: false,
        },
        rate_limits: RateLimits {
            requests_per_minute: 1,
            requests_per_day: None,
            concurrency: 1,
        },
        allowed_hosts: Vec::new(),
        config: Vec::new(),
        webhook: WebhookRouting::None,
        permissions: Vec::new(),
        actions: Vec::new(),
        wit_version: crate::bindings::WIT_VERSION,
    }
}

mod registry;
