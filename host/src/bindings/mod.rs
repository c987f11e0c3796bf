//! The binding edge: one module (and one `bindgen!` site) per supported WIT version,
//! converting between its generated types and the host's own (`crate::model`). Older
//! versions delegate their imports to the latest one, Zed's `since_vX_Y_Z` way: the
//! capabilities (`crate::caps`) implement only the latest version's `Host` traits.
//!
//! Imports are `async` (the host awaits HTTP and the database) and `trappable`, so each
//! host function returns `wasmtime::Result<Result<T, Error>>`: the outer error is a trap
//! for host bugs only, the inner one the typed WIT error a plugin can act on.

#[macro_use]
mod common;
pub mod v0_1_0;
pub mod v0_2_0;

pub use v0_2_0 as latest;

use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::{AsContextMut, Engine};

use crate::model::{
    Account, Content, ListRequest, Manifest, Page, PluginError, Subscription, WebhookOutcome,
    WebhookRequest,
};
use crate::runtime::PluginState;

/// The WIT package name (without version).
pub const WIT_PACKAGE: &str = "tributary:provider";

/// The newest WIT version this host implements (what the SDK targets).
pub const WIT_VERSION: &str = "0.2.0";

/// Every WIT version this host runs, oldest first.
pub const WIT_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];

/// Add every supported version's imports to `linker`.
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    v0_1_0::Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |s| s)?;
    v0_2_0::Plugin::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |s| s)?;
    Ok(())
}

/// A linked component of one WIT version, ready to instantiate.
#[derive(Clone)]
pub enum PluginPre {
    /// Built against 0.1.0.
    V0_1_0(v0_1_0::PluginPre<PluginState>),
    /// Built against 0.2.0.
    V0_2_0(v0_2_0::PluginPre<PluginState>),
}

impl PluginPre {
    /// Type-check `pre` against the world of `version` (one of [`WIT_VERSIONS`]).
    pub fn new(version: &str, pre: InstancePre<PluginState>) -> wasmtime::Result<PluginPre> {
        match version {
            "0.1.0" => Ok(PluginPre::V0_1_0(v0_1_0::PluginPre::new(pre)?)),
            "0.2.0" => Ok(PluginPre::V0_2_0(v0_2_0::PluginPre::new(pre)?)),
            other => Err(wasmtime::format_err!("unsupported WIT version {other}")),
        }
    }

    /// The engine it was compiled for.
    pub fn engine(&self) -> &Engine {
        match self {
            PluginPre::V0_1_0(p) => p.engine(),
            PluginPre::V0_2_0(p) => p.engine(),
        }
    }

    /// The WIT version.
    pub fn version(&self) -> &'static str {
        match self {
            PluginPre::V0_1_0(_) => "0.1.0",
            PluginPre::V0_2_0(_) => "0.2.0",
        }
    }

    /// A new instance in `store`.
    pub async fn instantiate_async(
        &self,
        store: impl AsContextMut<Data = PluginState>,
    ) -> wasmtime::Result<Instance> {
        Ok(match self {
            PluginPre::V0_1_0(p) => Instance::V0_1_0(p.instantiate_async(store).await?),
            PluginPre::V0_2_0(p) => Instance::V0_2_0(p.instantiate_async(store).await?),
        })
    }
}

/// A live instance of one WIT version; its calls speak the host's types.
pub enum Instance {
    /// Built against 0.1.0.
    V0_1_0(v0_1_0::Plugin),
    /// Built against 0.2.0.
    V0_2_0(v0_2_0::Plugin),
}

/// What an export call returns: a trap, or the plugin's typed answer.
pub type CallResult<T> = wasmtime::Result<Result<T, PluginError>>;

type Config = [(String, String)];

impl Instance {
    /// `manifest()`, tagged with the WIT version.
    pub async fn call_manifest(
        &self,
        store: impl AsContextMut<Data = PluginState>,
    ) -> wasmtime::Result<Manifest> {
        match self {
            Instance::V0_1_0(p) => v0_1_0::manifest(p, store).await,
            Instance::V0_2_0(p) => v0_2_0::manifest(p, store).await,
        }
    }

    /// `check(config)`.
    pub async fn call_check(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        config: &Config,
    ) -> CallResult<Account> {
        match self {
            Instance::V0_1_0(p) => v0_1_0::check(p, store, config).await,
            Instance::V0_2_0(p) => v0_2_0::check(p, store, config).await,
        }
    }

    /// `list(config, req)`.
    pub async fn call_list(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        config: &Config,
        req: &ListRequest,
    ) -> CallResult<Page> {
        match self {
            Instance::V0_1_0(p) => v0_1_0::list(p, store, config, req).await,
            Instance::V0_2_0(p) => v0_2_0::list(p, store, config, req).await,
        }
    }

    /// `fetch(config, id)`.
    pub async fn call_fetch(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        config: &Config,
        id: &str,
    ) -> CallResult<Content> {
        match self {
            Instance::V0_1_0(p) => v0_1_0::fetch(p, store, config, id).await,
            Instance::V0_2_0(p) => v0_2_0::fetch(p, store, config, id).await,
        }
    }

    /// `webhook(config, req)`; 0.1.0 plugins never see the subscription secret.
    pub async fn call_webhook(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        config: &Config,
        req: &WebhookRequest,
    ) -> CallResult<WebhookOutcome> {
        match self {
            Instance::V0_1_0(p) => v0_1_0::webhook(p, store, config, req).await,
            Instance::V0_2_0(p) => v0_2_0::webhook(p, store, config, req).await,
        }
    }

    /// `subscribe(config, callback, secret)`; 0.1.0 plugins get no secret.
    pub async fn call_subscribe(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        config: &Config,
        callback_url: &str,
        secret: &str,
    ) -> CallResult<Subscription> {
        match self {
            Instance::V0_1_0(p) => v0_1_0::subscribe(p, store, config, callback_url).await,
            Instance::V0_2_0(p) => v0_2_0::subscribe(p, store, config, callback_url, secret).await,
        }
    }

    /// `unsubscribe(config, subscription)`; 0.1.0 plugins get the id only.
    pub async fn call_unsubscribe(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        config: &Config,
        subscription: &Subscription,
    ) -> CallResult<()> {
        match self {
            Instance::V0_1_0(p) => v0_1_0::unsubscribe(p, store, config, &subscription.id).await,
            Instance::V0_2_0(p) => v0_2_0::unsubscribe(p, store, config, subscription).await,
        }
    }

    /// `run-action(config, name, input)`; 0.1.0 plugins declare no actions.
    pub async fn call_run_action(
        &self,
        store: impl AsContextMut<Data = PluginState>,
        config: &Config,
        name: &str,
        input: &str,
    ) -> CallResult<String> {
        match self {
            Instance::V0_1_0(_) => Ok(Err(PluginError::NotFound(format!(
                "no action `{name}`: the plugin is built against WIT 0.1.0, which has no actions"
            )))),
            Instance::V0_2_0(p) => v0_2_0::run_action(p, store, config, name, input).await,
        }
    }
}
