//! Tributary host: loads sandboxed provider plugins (WebAssembly components), gives them
//! the capabilities of the `tributary:provider` WIT contract, and serves the REST API.
//!
//! See `docs/architecture.md` for how the modules fit together.

pub mod api;
pub mod bindings;
pub mod budget;
pub use caps::LogLimits;
mod caps;
pub mod credentials;
pub mod crypto;
pub mod db;
pub mod egress;
pub mod index;
pub mod ingest;
pub mod jwt;
pub mod metrics;
pub mod model;
pub mod oauth;
pub mod runtime;
pub mod scopes;
pub mod server;
pub mod services;
pub mod sync;
pub mod ui;
pub mod vault;
pub mod webhooks;

/// First-party plugins compiled into the binary, installed into the plugins dir on start.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}
