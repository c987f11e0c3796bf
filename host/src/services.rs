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
            timeout: Duration::from_secs(30),
            max_redirects: 5,
            allow_private: false,
        }
    }
}

/// What an admin set for one provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProviderSettings {
    /// Origin the plugin calls → origin the host sends to instead (self-hosted servers,
    /// fakes in tests): `{"https://api.github.com": "http://127.0.0.1:9000"}`.
    #[serde(default)]
    pub base_urls: BTreeMap<String, String>,
    /// Manifest permissions the admin approved (`raw-token`).
    #[serde(default)]
    pub approved_permissions: BTreeSet<String>,
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
    /// Hosts of admin base-URL overrides, exempt from the private-address guard.
    exempt_hosts: Arc<RwLock<HashSet<String>>>,
    secrets: RwLock<HashMap<(String, String), String>>,
    gates: std::sync::Mutex<HashMap<String, Arc<crate::budget::ProviderGate>>>,
}

impl Services {
    /// Build the services, loading provider settings from the database.
    pub async fn new(
        db: Db,
        egress: EgressLimits,
        credentials: Arc<dyn CredentialStore>,
    ) -> anyhow::Result<Arc<Self>> {
        let resolver = GuardedResolver::new(egress.allow_private);
        let exempt_hosts = resolver.exempt_hosts();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(resolver))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let settings = db.load_provider_settings().await?;
        let services = Services {
            db,
            http,
            egress,
            credentials,
            settings: RwLock::new(settings),
            exempt_hosts,
            secrets: RwLock::new(HashMap::new()),
            gates: Default::default(),
        };
        services.refresh_exempt_hosts();
        Ok(Arc::new(services))
    }

    /// The request budget of a provider (rebuilt when a new plugin version changes it).
    pub fn gate(&self, manifest: &crate::bindings::Manifest) -> Arc<crate::budget::ProviderGate> {
        let rl = &manifest.rate_limits;
        let limits = (rl.requests_per_minute, rl.requests_per_day, rl.concurrency);
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
