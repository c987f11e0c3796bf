//! Host capabilities: one module per WIT import, each implementing the generated `Host`
//! trait on [`PluginState`](crate::runtime::PluginState) and checking its permission on
//! every call.

mod download;
mod http;
mod kv;
pub(crate) mod log;
mod secrets;
mod tokens;

pub use kv::DEFAULT_QUOTA_BYTES as KV_QUOTA_BYTES;
pub(crate) use log::LogBudget;
pub use log::LogLimits;
pub use tokens::RAW_TOKEN;

impl crate::bindings::latest::tributary::provider::types::Host for crate::runtime::PluginState {}
