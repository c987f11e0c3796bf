//! Egress policy: which hosts a plugin may reach, admin base-URL overrides, and refusal
//! of loopback/private addresses (SSRF) both for IP literals and for resolved names.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// True for addresses a plugin must not reach unless an admin allowed private egress.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets()[0] == 0
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64) // CGNAT 100.64/10
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
        }
    }
}

/// Does `host` match one allow-list entry (`api.x.com`, `*.x.com`, `config:<key>`)?
pub fn host_allowed(host: &str, patterns: &[String], config: &[(String, String)]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    patterns.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        if let Some(key) = pattern.strip_prefix("config:") {
            return config
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                .filter_map(|(_, v)| Url::parse(v).ok())
                .any(|u| u.host_str().is_some_and(|h| h.eq_ignore_ascii_case(&host)));
        }
        if let Some(suffix) = pattern.strip_prefix("*.") {
            return host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.';
        }
        host == pattern
    })
}

/// Check an allow-list pattern's syntax (used when validating manifests).
pub fn valid_pattern(pattern: &str) -> bool {
    if let Some(key) = pattern.strip_prefix("config:") {
        return !key.is_empty() && key.len() <= 64;
    }
    let host = pattern.strip_prefix("*.").unwrap_or(pattern);
    !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// The origin (`scheme://host[:port]`) of a URL.
pub fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Rewrite `url` when its origin has an admin override; returns whether it was rewritten.
pub fn apply_override(
    url: &Url,
    overrides: &std::collections::BTreeMap<String, String>,
) -> Option<Url> {
    let target = overrides.get(&origin(url))?;
    let base = Url::parse(target).ok()?;
    let base_path = base.path().trim_end_matches('/');
    let mut out = base.clone();
    out.set_path(&format!("{base_path}{}", url.path()));
    out.set_query(url.query());
    Some(out)
}

/// A DNS resolver that refuses names resolving to private addresses, except for hosts
/// an admin named in a base-URL override.
pub struct GuardedResolver {
    allow_private: bool,
    exempt: Arc<RwLock<HashSet<String>>>,
}

impl GuardedResolver {
    /// A resolver; `allow_private` turns the guard off (development only).
    pub fn new(allow_private: bool) -> Self {
        GuardedResolver {
            allow_private,
            exempt: Arc::default(),
        }
    }

    /// The set of host names exempt from the private-address guard.
    pub fn exempt_hosts(&self) -> Arc<RwLock<HashSet<String>>> {
        self.exempt.clone()
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let guarded =
            !self.allow_private && !self.exempt.read().expect("exempt lock").contains(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| !guarded || !is_private(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_matching_exact_wildcard_and_config_hosts() {
        let pats = vec![
            "api.github.com".to_string(),
            "*.substack.com".to_string(),
            "config:feed_url".to_string(),
        ];
        let cfg = vec![(
            "feed_url".to_string(),
            "https://blog.example.org/feed".to_string(),
        )];
        assert!(host_allowed("api.github.com", &pats, &cfg));
        assert!(host_allowed("API.GitHub.com.", &pats, &cfg));
        assert!(host_allowed("astral.substack.com", &pats, &cfg));
        assert!(host_allowed("blog.example.org", &pats, &cfg));
    }

    #[test]
    fn errors_when_host_only_resembles_an_allowed_one() {
        let pats = vec!["api.github.com".to_string(), "*.substack.com".to_string()];
        for h in [
            "evilgithub.com",
            "api.github.com.evil.org",
            "substack.com",
            "xsubstack.com",
            "a.substack.com.evil",
        ] {
            assert!(!host_allowed(h, &pats, &[]), "{h} must be refused");
        }
        assert!(!host_allowed(
            "blog.example.org",
            &["config:feed_url".to_string()],
            &[]
        ));
    }

    #[test]
    fn works_when_classifying_private_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "140.82.112.3", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn works_when_rewriting_an_overridden_origin() {
        let mut o = std::collections::BTreeMap::new();
        o.insert(
            "https://api.github.com".to_string(),
            "http://127.0.0.1:9000/gh".to_string(),
        );
        let u = Url::parse("https://api.github.com/repos/a/b?page=2").unwrap();
        assert_eq!(
            apply_override(&u, &o).unwrap().as_str(),
            "http://127.0.0.1:9000/gh/repos/a/b?page=2"
        );
        assert!(apply_override(&Url::parse("https://github.com/x").unwrap(), &o).is_none());
    }
}
