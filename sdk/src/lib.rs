//! Write Tributary provider plugins in Rust.
//!
//! A provider is a type that implements [`Provider`]; [`export!`] turns it into a
//! WebAssembly component for the `tributary:provider@0.2.0` world. The host performs
//! every side effect: [`http`] requests (allow-listed, credentials injected by the host),
//! [`kv`] storage scoped to one integration, [`secrets`], [`tokens`] and [`log`].
//!
//! ```no_run
//! use tributary_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl Provider for Hello {
//!     fn manifest() -> Manifest {
//!         ManifestBuilder::new("hello", "Hello").allowed_host("api.example.com").build()
//!     }
//!     fn list(&mut self, _config: &Config, _req: ListRequest) -> Result<Page, Error> {
//!         Ok(Page::last(Vec::new()))
//!     }
//!     fn fetch(&mut self, _config: &Config, id: &str) -> Result<Content, Error> {
//!         Ok(Content::text(id, "note", "Hello", "hello world"))
//!     }
//! }
//!
//! tributary_sdk::export!(Hello);
//! ```
//!
//! The WIT this crate targets is vendored in `wit/` (the workspace's `wit/0.2.0`), so
//! the crate builds on its own once published.
#![deny(missing_docs)]

// Lets the generated code name this crate by its public path from inside it too.
extern crate self as tributary_sdk;

#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod __bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_impl",
        default_bindings_module: "tributary_sdk::__bindings",
        runtime_path: "tributary_sdk::__wit_bindgen_rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen::rt as __wit_bindgen_rt;

pub mod chat;
pub mod checkpoint;
mod config;
mod content;
mod error;
pub mod http;
pub mod kv;
pub mod log;
mod manifest;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
pub mod paging;
pub mod provider;
pub mod secrets;
pub mod signature;
pub mod time;
pub mod tokens;
pub mod url;

pub use config::Config;
pub use content::{
    Account, Author, Body, Change, Content, Download, ListMode, ListRequest, Page, Resource,
    Subscription, WebhookOutcome, WebhookRequest, WebhookResponse,
};
pub use error::{Error, RateLimit};
pub use manifest::{
    Action, Auth, Capabilities, Category, ClientAuth, ConfigField, FieldKind, Injection, Manifest,
    ManifestBuilder, Oauth2, Permission, PrefixedHeader, RateLimits, WebhookRouting,
};
pub use provider::Provider;

/// Everything a provider usually needs, in one import.
///
/// ```
/// use tributary_sdk::prelude::*;
/// let _ = Config::default();
/// ```
pub mod prelude {
    pub use crate::{
        Account, Auth, Body, Category, Change, Config, Content, Error, Injection, ListMode,
        ListRequest, Manifest, ManifestBuilder, Page, Provider, Resource, Subscription,
        WebhookOutcome, WebhookRequest, http, kv, log, secrets, time,
    };
}
