//! Host services shared by every plugin call: database, HTTP client, credentials,
//! per-provider admin settings and app secrets.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::credentials::CredentialStore;
use crate::db::Db;
use crate::egress::GuardedResolver;

/// Outbound HTTP limits.
#[derive(Debug, Clone)]
pub struct EgressLimits {
    /// Largest response body a plugin may receive.
    pub max_response_bytes: usize,
    /// Largest file the host downloads for a plugin (`body.download`, WIT 0.2.0).
    pub max_download_bytes: usize,
    /// Longest one such download may take.
    pub download_timeout: Duration,
    /// Longest a request may take.
    pub timeout: Duration,
    /// Redirect hops followed (each re-checked against the allow-list).
    pub max_redirects: usize,
    /// Let plugins reach loopback and private networks (development only).
    pub allow_private: bool,
}

impl Default for EgressLimits {
    fn default() -> Self {
        EgressLimits {
            max_response_bytes: 32 << 20,
            max_download_bytes: 256 << 20,
            download_timeout: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            max_redirects: 5,
            allow_private: false,
        }
    }
}

/// How stale this process's copy of the provider settings may be.
pub const SETTINGS_TTL: Duration = Duration::from_secs(1);

/// What one integration's plugin may store and log.
#[derive(Debug, Clone)]
pub struct Quotas {
    /// Bytes of kv (keys + values) per integration (`TRIBUTARY_KV_QUOTA_BYTES`).
    pub kv_bytes: i64,
    /// Log budget per (plugin, integration).
    pub log: crate::caps::LogLimits,
}

impl Quotas {
    /// Defaults, with `TRIBUTARY_KV_QUOTA_BYTES` applied.
    pub fn from_env() -> Self {
        let kv_bytes = std::env::var("TRIBUTARY_KV_QUOTA_BYTES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|v: &i64| *v > 0)
            .unwrap_or(crate::caps::KV_QUOTA_BYTES);
        Quotas {
            kv_bytes,
            log: Default::default(),
        }
    }
}

/// What an admin set for one provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ProviderSettings {
    /// Origin the plugin calls → origin the host sends to instead (self-hosted servers,
    /// fakes in tests): `{"https://api.github.com": "http://127.0.0.1:9000"}`.
    #[serde(default)]
    pub base_urls: BTreeMap<String, String>,
    /// Manifest permissions the admin approved (`raw-token`).
    #[serde(default)]
    pub approved_permissions: BTreeSet<String>,
    /// The OAuth endpoints approved for the provider (pinned; see
    /// `oauth::approved_endpoints`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth_endpoints: Option<OauthEndpoints>,
    /// The admin's own request budget for the provider, in place of the manifest's: an
    /// app with other limits than the published default (Slack's non-Marketplace apps
    /// get 1 history request a minute; an enterprise plan may allow more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimitOverride>,
}

/// A request budget an admin set for a provider (see [`ProviderSettings::rate_limits`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RateLimitOverride {
    /// Requests per minute (at least 1).
    pub requests_per_minute: u32,
    /// Requests per day, when the provider counts them.
    #[serde(default)]
    pub requests_per_day: Option<u32>,
    /// Requests in flight at once (1 to 64).
    pub concurrency: u32,
}

impl RateLimitOverride {
    /// Why the override cannot be used, if it cannot.
    ///
    /// ```
    /// use tributary::services::RateLimitOverride;
    /// let ok = RateLimitOverride { requests_per_minute: 1, requests_per_day: None, concurrency: 1 };
    /// assert!(ok.check().is_ok());
    /// assert!(RateLimitOverride { concurrency: 0, ..ok }.check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if self.requests_per_minute == 0 || self.requests_per_day == Some(0) {
            return Err("rate limits must allow at least one request".into());
        }
        if !(1..=64).contains(&self.concurrency) {
            return Err("concurrency must be between 1 and 64".into());
        }
        Ok(())
    }
}

/// OAuth endpoints as approved by an admin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct OauthEndpoints {
    /// Authorization endpoint.
    pub authorize_url: String,
    /// Token endpoint (receives the client secret and refresh tokens).
    pub token_url: String,
    /// Revocation endpoint.
    pub revoke_url: Option<String>,
}

/// Shared host services.
pub struct Services {
    /// Database.
    pub db: Db,
    /// The HTTP client plugins' requests go through (no redirects, guarded resolver).
    pub http: reqwest::Client,
    /// Egress limits.
    pub egress: EgressLimits,
    /// Integration credentials.
    pub credentials: Arc<dyn CredentialStore>,
    settings: RwLock<HashMap<String, ProviderSettings>>,
    /// When the settings were last read from the database (another replica may have
    /// changed them).
    settings_read: std::sync::Mutex<std::time::Instant>,
    /// Hosts of admin base-URL overrides, exempt from the private-address guard.
    exempt_hosts: Arc<RwLock<HashSet<String>>>,
    secrets: RwLock<HashMap<(String, String), String>>,
    /// Storage and log quotas of plugins.
    pub quotas: Quotas,
    pub(crate) log_budget: crate::caps::LogBudget,
    gates: std::sync::Mutex<HashMap<String, Arc<crate::budget::ProviderGate>>>,
}

impl Services {
    /// Build the services, loading provider settings from the database.
    pub async fn new(
        db: Db,
        egress: EgressLimits,
        credentials: Arc<dyn CredentialStore>,
    ) -> anyhow::Result<Arc<Self>> {
        // Counters recorded from here on reach `/metrics`.
        crate::metrics::init();
        let resolver = GuardedResolver::new(egress.allow_private);
        let exempt_hosts = resolver.exempt_hosts();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(resolver))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let settings = db.load_provider_settings().await?;
        let quotas = Quotas::from_env();
        let services = Services {
            db,
            http,
            egress,
            credentials,
            settings: RwLock::new(settings),
            settings_read: std::sync::Mutex::new(std::time::Instant::now()),
            exempt_hosts,
            secrets: RwLock::new(HashMap::new()),
            log_budget: crate::caps::LogBudget::new(quotas.log),
            quotas,
            gates: Default::default(),
        };
        services.refresh_exempt_hosts();
        Ok(Arc::new(services))
    }

    /// The request budget of a provider (rebuilt when a new plugin version changes it).
    /// An admin's [`RateLimitOverride`] takes the manifest's place.
    pub fn gate(&self, manifest: &crate::model::Manifest) -> Arc<crate::budget::ProviderGate> {
        let rl = &manifest.rate_limits;
        let limits = match self.settings(&manifest.id).rate_limits {
            Some(o) => (o.requests_per_minute, o.requests_per_day, o.concurrency),
            None => (rl.requests_per_minute, rl.requests_per_day, rl.concurrency),
        };
        let mut gates = self.gates.lock().expect("gate lock");
        match gates.get(&manifest.id) {
            Some(g) if g.limits() == limits => g.clone(),
            _ => {
                let g = Arc::new(crate::budget::ProviderGate::new(
                    &manifest.id,
                    limits,
                    &self.db,
                ));
                gates.insert(manifest.id.clone(), g.clone());
                g
            }
        }
    }

    /// Re-read every provider's settings when the copy here is older than
    /// [`SETTINGS_TTL`]: every session starts with what any replica saved by then.
    pub async fn refresh_settings(&self) -> anyhow::Result<()> {
        {
            let mut read = self.settings_read.lock().expect("settings clock");
            if read.elapsed() < SETTINGS_TTL {
                return Ok(());
            }
            *read = std::time::Instant::now();
        }
        let fresh = self.db.load_provider_settings().await?;
        *self.settings.write().expect("settings lock") = fresh;
        self.refresh_exempt_hosts();
        Ok(())
    }

    /// The admin settings of a provider (defaults when none were saved).
    pub fn settings(&self, provider: &str) -> ProviderSettings {
        self.settings
            .read()
            .expect("settings lock")
            .get(provider)
            .cloned()
            .unwrap_or_default()
    }

    /// Save the admin settings of a provider; override keys are normalised to origins.
    pub async fn set_settings(
        &self,
        provider: &str,
        mut settings: ProviderSettings,
    ) -> anyhow::Result<ProviderSettings> {
        settings.base_urls = settings
            .base_urls
            .into_iter()
            .map(|(from, to)| {
                let origin = url::Url::parse(&from)
                    .map(|u| crate::egress::origin(&u))
                    .unwrap_or(from);
                (origin, to)
            })
            .collect();
        self.db.save_provider_settings(provider, &settings).await?;
        self.settings
            .write()
            .expect("settings lock")
            .insert(provider.to_string(), settings.clone());
        self.refresh_exempt_hosts();
        Ok(settings)
    }

    fn refresh_exempt_hosts(&self) {
        let hosts: HashSet<String> = self
            .settings
            .read()
            .expect("settings lock")
            .values()
            .flat_map(|s| s.base_urls.values())
            .filter_map(|to| url::Url::parse(to).ok()?.host_str().map(str::to_string))
            .collect();
        *self.exempt_hosts.write().expect("exempt lock") = hosts;
    }

    /// True when `host` is the target of some provider's base-URL override (exempt from
    /// the private-address guard).
    pub fn is_exempt_host(&self, host: &str) -> bool {
        self.exempt_hosts
            .read()
            .expect("exempt lock")
            .contains(host)
    }

    /// Set an app secret of a provider (webhook signing secret, ...).
    pub fn set_secret(&self, provider: &str, name: &str, value: &str) {
        self.secrets
            .write()
            .expect("secret lock")
            .insert((provider.to_string(), name.to_string()), value.to_string());
    }

    /// An app secret of a provider: set through the API, or from the environment as
    /// `TRIBUTARY_SECRET_<PROVIDER>__<NAME>` (double underscore: ids may contain `_`).
    pub fn secret(&self, provider: &str, name: &str) -> Option<String> {
        let set = self
            .secrets
            .read()
            .expect("secret lock")
            .get(&(provider.to_string(), name.to_string()))
            .cloned();
        set.or_else(|| {
            let var = format!(
                "TRIBUTARY_SECRET_{}__{}",
                provider.to_ascii_uppercase(),
                name.to_ascii_uppercase()
            );
            std::env::var(var).ok()
        })
    }
}
