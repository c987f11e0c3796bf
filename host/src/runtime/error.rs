//! Errors of loading a plugin and of calling one; each has a stable code.

use std::time::Duration;

use crate::model::PluginError;

/// Why a plugin file was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a component, or it failed validation.
    #[error("`{file}` is not a valid WebAssembly component: {reason}")]
    Invalid {
        /// File name.
        file: String,
        /// Compiler message.
        reason: String,
    },
    /// Built against a WIT version this host does not implement.
    #[error("`{file}` is built for {found}; this host supports {supported}")]
    WitVersion {
        /// File name.
        file: String,
        /// What it targets.
        found: String,
        /// What the host implements.
        supported: String,
    },
    /// Imports something the host does not provide.
    #[error("`{file}` cannot be linked: {reason}")]
    Link {
        /// File name.
        file: String,
        /// Linker message.
        reason: String,
    },
    /// `manifest()` failed or returned an invalid manifest.
    #[error("`{file}` has a bad manifest: {reason}")]
    Manifest {
        /// File name.
        file: String,
        /// What was wrong.
        reason: String,
    },
    /// Another file already provides this id.
    #[error("`{file}` declares provider `{id}`, which `{other}` already provides")]
    Duplicate {
        /// File name.
        file: String,
        /// Provider id.
        id: String,
        /// The file that has it.
        other: String,
    },
    /// Reading or writing files failed.
    #[error("plugin file i/o failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a plugin call failed. The host keeps serving in every case.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No loaded plugin has this id.
    #[error("provider `{0}` is not installed")]
    NotInstalled(String),
    /// The plugin returned a typed error.
    #[error("{}", .0.message())]
    Plugin(PluginError),
    /// The call ran past its wall-time limit.
    #[error("plugin `{plugin}` exceeded its time limit of {limit:?}")]
    Timeout {
        /// Provider id.
        plugin: String,
        /// The limit.
        limit: Duration,
    },
    /// The plugin tried to grow memory past its limit.
    #[error("plugin `{plugin}` exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// Provider id.
        plugin: String,
        /// The limit.
        limit: usize,
    },
    /// The plugin trapped (panic, unreachable, bad memory access).
    #[error("plugin `{plugin}` crashed: {message}")]
    Trap {
        /// Provider id.
        plugin: String,
        /// Trap and panic message.
        message: String,
    },
    /// The plugin returned data that breaks the contract.
    #[error("plugin `{plugin}` returned malformed data: {reason}")]
    Malformed {
        /// Provider id.
        plugin: String,
        /// What was wrong.
        reason: String,
    },
    /// A walk that would never end: a repeated cursor, or past its page or time ceiling.
    #[error("plugin `{plugin}` {reason}")]
    Runaway {
        /// Provider id.
        plugin: String,
        /// What the walk did.
        reason: String,
    },
    /// The instance could not be created (pool exhausted, host error).
    #[error("plugin `{plugin}` could not be started: {message}")]
    Instantiate {
        /// Provider id.
        plugin: String,
        /// Why.
        message: String,
    },
}

impl CallError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::NotInstalled(_) => "plugin_not_installed",
            CallError::Plugin(e) => e.code(),
            CallError::Timeout { .. } => "plugin_timeout",
            CallError::MemoryLimit { .. } => "plugin_memory_limit",
            CallError::Trap { .. } => "plugin_trap",
            CallError::Malformed { .. } => "plugin_malformed_result",
            CallError::Runaway { .. } => "plugin_runaway_walk",
            CallError::Instantiate { .. } => "plugin_unavailable",
        }
    }
}
