//! The host's own types for what plugins exchange with it: manifest, pages, content,
//! webhook outcomes, subscriptions and the typed error. Every WIT version converts to and
//! from these at its binding edge (`crate::bindings::v0_1_0`, `crate::bindings::v0_2_0`),
//! so a new WIT version touches one module instead of the whole host.

mod content;
mod error;
mod manifest;

pub use content::{
    Account, Author, Body, Change, Content, Download, ListMode, ListRequest, Page, Resource,
    Subscription, WebhookOutcome, WebhookRequest, WebhookResponse,
};
pub use error::{PluginError, RateLimit};
pub use manifest::{
    Action, Auth, Capabilities, Category, ClientAuth, ConfigField, FieldKind, Injection, Manifest,
    Oauth2, Permission, RateLimits, WebhookRouting,
};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Timestamp = i64;

/// Key/value pairs (HTTP headers, integration config, metadata).
pub type Pairs = Vec<(String, String)>;
