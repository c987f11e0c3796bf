//! What a plugin says about itself: identity, authentication, limits, allowed hosts,
//! configuration, webhook routing, permissions and actions.

use super::Pairs;

/// Catalogue category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Files and documents.
    Storage,
    /// Mail, calendars, notes.
    Productivity,
    /// Chat.
    Communication,
    /// Code hosting.
    Development,
    /// Customer records.
    Crm,
    /// Social networks.
    Social,
    /// Video, audio, publications.
    Media,
    /// Anything else.
    Other,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with client id and secret.
    Basic,
    /// `client_id` and `client_secret` in the form body.
    RequestBody,
}

/// OAuth 2.0 authorization-code flow settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oauth2 {
    /// The provider's authorize endpoint.
    pub authorize_url: String,
    /// The provider's token endpoint.
    pub token_url: String,
    /// The provider's revocation endpoint, when it has one.
    pub revoke_url: Option<String>,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// Use PKCE (S256).
    pub pkce: bool,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// Extra authorize parameters.
    pub extra_params: Pairs,
    /// The authorize parameter carrying the scopes (`scope` when none).
    pub scope_param: Option<String>,
    /// What joins the scopes (a space when none).
    pub scope_separator: Option<String>,
    /// JSON pointer to the token object in the token response (the root when none).
    pub token_pointer: Option<String>,
}

/// How the integration authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    None,
    /// OAuth 2.0.
    Oauth2(Oauth2),
    /// A pasted API key; the string is the label shown to the user.
    ApiKey(String),
    /// User name and password.
    Basic,
}

/// Where the host puts the credential on authenticated requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A header with this name carrying the raw credential.
    Header(String),
    /// A query parameter with this name.
    Query(String),
    /// `Authorization: Basic`.
    Basic,
    /// A header `name: <prefix><credential>`.
    PrefixedHeader {
        /// Header name.
        name: String,
        /// Written before the credential.
        prefix: String,
    },
}

/// What the plugin can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Walks resources.
    pub pull: bool,
    /// Walks only what changed.
    pub incremental: bool,
    /// Interprets webhook calls.
    pub webhooks: bool,
    /// Registers webhooks at the provider.
    pub subscribe: bool,
}

/// Limits the host enforces for all integrations of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per minute.
    pub requests_per_minute: u32,
    /// Requests per day, when the provider publishes one.
    pub requests_per_day: Option<u32>,
    /// Requests in flight at once.
    pub concurrency: u32,
}

/// How webhook calls reach an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookRouting {
    /// No webhooks.
    None,
    /// The callback URL names the integration.
    PerIntegration,
    /// One endpoint for the app; the plugin names the account.
    PerApp,
}

/// Special rights a plugin may request; an admin approves each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the raw credential.
    RawToken,
}

/// Kind of a configuration value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// An absolute URL.
    Url,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// Never shown back.
    Secret,
}

/// One configuration field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigField {
    /// Key in the config pairs.
    pub key: String,
    /// Label shown to the user.
    pub label: String,
    /// Help text.
    pub help: String,
    /// Kind of value.
    pub kind: FieldKind,
    /// Must be filled in.
    pub required: bool,
    /// Value when not filled in.
    pub default: Option<String>,
}

/// A write the provider supports, run only on an explicit API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Stable name.
    pub name: String,
    /// Short title.
    pub title: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of the input.
    pub input_schema: String,
}

/// Everything the host needs to know before calling a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// One or two sentences.
    pub description: String,
    /// URL or icon name.
    pub icon: String,
    /// Catalogue category.
    pub category: Category,
    /// The plugin's own version (semver).
    pub version: String,
    /// How integrations authenticate.
    pub auth: Auth,
    /// Where credentials go on requests.
    pub injection: Injection,
    /// What the plugin can do.
    pub capabilities: Capabilities,
    /// Published limits.
    pub rate_limits: RateLimits,
    /// Hosts the plugin may call.
    pub allowed_hosts: Vec<String>,
    /// Configuration fields.
    pub config: Vec<ConfigField>,
    /// Webhook routing.
    pub webhook: WebhookRouting,
    /// Special rights requested.
    pub permissions: Vec<Permission>,
    /// Declared actions (none before WIT 0.2.0).
    pub actions: Vec<Action>,
    /// The WIT version the component was built against (`0.1.0`, `0.2.0`); set by the host.
    pub wit_version: &'static str,
}
