//! Host capabilities: one module per WIT import, each implementing the generated `Host`
//! trait on [`PluginState`](crate::runtime::PluginState) and checking its permission on
//! every call.

mod http;
mod kv;
mod log;
mod secrets;
mod tokens;

pub use tokens::RAW_TOKEN;

impl crate::bindings::tributary::provider::types::Host for crate::runtime::PluginState {}
