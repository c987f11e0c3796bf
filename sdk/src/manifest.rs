//! The manifest types and a builder with sensible defaults.

use crate::__bindings::exports::tributary::provider::provider as p;

pub use p::{
    Action, Auth, Capabilities, Category, ClientAuth, ConfigField, FieldKind, Injection, Oauth2,
    Permission, PrefixedHeader, ProviderManifest as Manifest, RateLimits, WebhookRouting,
};

impl Oauth2 {
    /// Authorization-code settings with the RFC 6749 defaults: no revocation endpoint, no
    /// PKCE, client secret in the form body, scopes joined by spaces in `scope`, tokens
    /// at the root of the token response.
    ///
    /// ```
    /// use tributary_sdk::Oauth2;
    /// let o = Oauth2::new("https://slack.com/oauth/v2/authorize", "https://slack.com/api/oauth.v2.access",
    ///     &["channels:history"]);
    /// assert!(o.scope_param.is_none() && !o.pkce);
    /// ```
    pub fn new(authorize_url: &str, token_url: &str, scopes: &[&str]) -> Self {
        Oauth2 {
            authorize_url: authorize_url.into(),
            token_url: token_url.into(),
            revoke_url: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            pkce: false,
            client_auth: ClientAuth::RequestBody,
            extra_params: Vec::new(),
            scope_param: None,
            scope_separator: None,
            token_pointer: None,
        }
    }
}

/// Builds a [`Manifest`]: no auth, pull only, 60 requests/minute, concurrency 2.
///
/// ```
/// use tributary_sdk::{ManifestBuilder, Category};
/// let m = ManifestBuilder::new("feeds", "Feeds")
///     .description("Any RSS feed")
///     .category(Category::Media)
///     .allowed_host("*.example.com")
///     .build();
/// assert_eq!(m.id, "feeds");
/// assert_eq!(m.allowed_hosts, vec!["*.example.com".to_string()]);
/// ```
#[derive(Debug, Clone)]
pub struct ManifestBuilder(Manifest);

impl ManifestBuilder {
    /// Start a manifest with an id (`[a-z0-9_]{1,64}`) and a display name.
    ///
    /// ```
    /// # use tributary_sdk::ManifestBuilder;
    /// assert_eq!(ManifestBuilder::new("x", "X").build().name, "X");
    /// ```
    pub fn new(id: &str, name: &str) -> Self {
        ManifestBuilder(Manifest {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            icon: String::new(),
            category: Category::Other,
            version: "0.1.0".into(),
            auth: Auth::None,
            injection: Injection::Bearer,
            capabilities: Capabilities {
                pull: true,
                incremental: false,
                webhooks: false,
                subscribe: false,
            },
            rate_limits: RateLimits {
                requests_per_minute: 60,
                requests_per_day: None,
                concurrency: 2,
            },
            allowed_hosts: Vec::new(),
            config: Vec::new(),
            webhook: WebhookRouting::None,
            permissions: Vec::new(),
            actions: Vec::new(),
        })
    }

    /// One-line description for the catalogue.
    ///
    /// ```
    /// # use tributary_sdk::ManifestBuilder;
    /// assert_eq!(ManifestBuilder::new("x", "X").description("d").build().description, "d");
    /// ```
    pub fn description(mut self, d: &str) -> Self {
        self.0.description = d.into();
        self
    }

    /// Icon URL or name.
    ///
    /// ```
    /// # use tributary_sdk::ManifestBuilder;
    /// assert_eq!(ManifestBuilder::new("x", "X").icon("rss").build().icon, "rss");
    /// ```
    pub fn icon(mut self, icon: &str) -> Self {
        self.0.icon = icon.into();
        self
    }

    /// Catalogue category.
    ///
    /// ```
    /// # use tributary_sdk::{ManifestBuilder, Category};
    /// let m = ManifestBuilder::new("x", "X").category(Category::Storage).build();
    /// assert!(matches!(m.category, Category::Storage));
    /// ```
    pub fn category(mut self, c: Category) -> Self {
        self.0.category = c;
        self
    }

    /// The plugin's own semver version.
    ///
    /// ```
    /// # use tributary_sdk::ManifestBuilder;
    /// assert_eq!(ManifestBuilder::new("x", "X").version("2.0.0").build().version, "2.0.0");
    /// ```
    pub fn version(mut self, v: &str) -> Self {
        self.0.version = v.into();
        self
    }

    /// How the integration authenticates and where the host injects the credential.
    ///
    /// ```
    /// # use tributary_sdk::{ManifestBuilder, Auth, Injection};
    /// let m = ManifestBuilder::new("x", "X").auth(Auth::ApiKey("Token".into()), Injection::Header("X-Key".into())).build();
    /// assert!(matches!(m.injection, Injection::Header(_)));
    /// ```
    pub fn auth(mut self, auth: Auth, injection: Injection) -> Self {
        self.0.auth = auth;
        self.0.injection = injection;
        self
    }

    /// What the plugin supports.
    ///
    /// ```
    /// # use tributary_sdk::{ManifestBuilder, Capabilities};
    /// let caps = Capabilities { pull: true, incremental: true, webhooks: false, subscribe: false };
    /// assert!(ManifestBuilder::new("x", "X").capabilities(caps).build().capabilities.incremental);
    /// ```
    pub fn capabilities(mut self, c: Capabilities) -> Self {
        self.0.capabilities = c;
        self
    }

    /// Rate limits the host enforces for this provider.
    ///
    /// ```
    /// # use tributary_sdk::ManifestBuilder;
    /// let m = ManifestBuilder::new("x", "X").rate_limits(100, Some(10_000), 4).build();
    /// assert_eq!(m.rate_limits.concurrency, 4);
    /// ```
    pub fn rate_limits(mut self, per_minute: u32, per_day: Option<u32>, concurrency: u32) -> Self {
        self.0.rate_limits = RateLimits {
            requests_per_minute: per_minute,
            requests_per_day: per_day,
            concurrency,
        };
        self
    }

    /// Allow requests to a host: `api.example.com`, `*.example.com` or `config:<key>`.
    ///
    /// ```
    /// # use tributary_sdk::ManifestBuilder;
    /// let m = ManifestBuilder::new("x", "X").allowed_host("config:feed_url").build();
    /// assert_eq!(m.allowed_hosts.len(), 1);
    /// ```
    pub fn allowed_host(mut self, host: &str) -> Self {
        self.0.allowed_hosts.push(host.into());
        self
    }

    /// Add a configuration field.
    ///
    /// ```
    /// # use tributary_sdk::{ManifestBuilder, FieldKind};
    /// let m = ManifestBuilder::new("x", "X").field("url", "Feed URL", FieldKind::Url, true).build();
    /// assert!(m.config[0].required);
    /// ```
    pub fn field(mut self, key: &str, label: &str, kind: FieldKind, required: bool) -> Self {
        self.0.config.push(ConfigField {
            key: key.into(),
            label: label.into(),
            help: String::new(),
            kind,
            required,
            default: None,
        });
        self
    }

    /// How webhooks reach an integration.
    ///
    /// ```
    /// # use tributary_sdk::{ManifestBuilder, WebhookRouting};
    /// let m = ManifestBuilder::new("x", "X").webhook(WebhookRouting::PerApp).build();
    /// assert!(matches!(m.webhook, WebhookRouting::PerApp));
    /// ```
    pub fn webhook(mut self, routing: WebhookRouting) -> Self {
        self.0.webhook = routing;
        self
    }

    /// Ask for a special right; an admin must approve it.
    ///
    /// ```
    /// # use tributary_sdk::{ManifestBuilder, Permission};
    /// let m = ManifestBuilder::new("x", "X").permission(Permission::RawToken).build();
    /// assert_eq!(m.permissions.len(), 1);
    /// ```
    pub fn permission(mut self, p: Permission) -> Self {
        self.0.permissions.push(p);
        self
    }

    /// Declare an action (a write the provider supports) with the JSON Schema of its input;
    /// the host runs it only on an explicit API call, never during a sync.
    ///
    /// ```
    /// # use tributary_sdk::ManifestBuilder;
    /// let m = ManifestBuilder::new("mail", "Mail")
    ///     .action("create_draft", "Create a draft", "Saves a draft in the mailbox",
    ///         r#"{"type":"object","required":["to","subject"],"properties":{"to":{"type":"string"},"subject":{"type":"string"}}}"#)
    ///     .build();
    /// assert_eq!(m.actions[0].name, "create_draft");
    /// ```
    pub fn action(
        mut self,
        name: &str,
        title: &str,
        description: &str,
        input_schema: &str,
    ) -> Self {
        self.0.actions.push(Action {
            name: name.into(),
            title: title.into(),
            description: description.into(),
            input_schema: input_schema.into(),
        });
        self
    }

    /// Finish.
    ///
    /// ```
    /// # use tributary_sdk::ManifestBuilder;
    /// let _m = ManifestBuilder::new("x", "X").build();
    /// ```
    pub fn build(self) -> Manifest {
        self.0
    }
}
