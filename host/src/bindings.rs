//! The one `bindgen!` site: host-side types and traits for `tributary:provider@0.1.0`.
//!
//! Imports are `async` (the host awaits HTTP and the database) and `trappable`, so each
//! host function returns `wasmtime::Result<Result<T, Error>>`: the outer error is a trap
//! for host bugs only, the inner one the typed WIT error a plugin can act on.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::tributary::provider::types::{Error as PluginError, RateLimit};
pub use exports::tributary::provider::provider as api;

/// A plugin's manifest.
pub type Manifest = api::ProviderManifest;

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.1.0";

/// The WIT package name (without version).
pub const WIT_PACKAGE: &str = "tributary:provider";

impl PluginError {
    /// A human-readable message (the generated `Display` prints the debug form).
    pub fn message(&self) -> String {
        match self {
            PluginError::Unauthorized(m) => format!("unauthorized: {m}"),
            PluginError::Forbidden(m) => format!("forbidden: {m}"),
            PluginError::RateLimited(r) => match r.retry_after_ms {
                Some(ms) => format!("rate limited (retry after {ms} ms): {}", r.message),
                None => format!("rate limited: {}", r.message),
            },
            PluginError::NotFound(m) => format!("not found: {m}"),
            PluginError::Transient(m) => format!("transient: {m}"),
            PluginError::InvalidConfig(m) => format!("invalid config: {m}"),
            PluginError::InvalidInput(m) => format!("invalid input: {m}"),
            PluginError::Other(m) => m.clone(),
        }
    }

    /// A stable machine-readable code for this error's kind.
    pub fn code(&self) -> &'static str {
        match self {
            PluginError::Unauthorized(_) => "unauthorized",
            PluginError::Forbidden(_) => "forbidden",
            PluginError::RateLimited(_) => "rate_limited",
            PluginError::NotFound(_) => "not_found",
            PluginError::Transient(_) => "transient",
            PluginError::InvalidConfig(_) => "invalid_config",
            PluginError::InvalidInput(_) => "invalid_input",
            PluginError::Other(_) => "other",
        }
    }
}
