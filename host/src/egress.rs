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

/// Map a URL the overridden server wrote (a `Link` page, a `Location`) back into the
/// plugin's view: `https://ghe.example.com/api/v3/x` under the override
/// `https://api.github.com → https://ghe.example.com/api/v3` becomes
/// `https://api.github.com/x`, so the plugin follows it to a host it may reach, with
/// its credentials. The longest matching target wins; anything else is left alone.
pub fn reverse_override(
    url: &str,
    overrides: &std::collections::BTreeMap<String, String>,
) -> String {
    overrides
        .iter()
        .filter_map(|(from, to)| {
            let to = to.trim_end_matches('/');
            let rest = url.strip_prefix(to)?;
            matches!(rest.chars().next(), None | Some('/' | '?' | '#')).then_some((from, to, rest))
        })
        .max_by_key(|(_, to, _)| to.len())
        .map(|(from, _, rest)| format!("{}{rest}", from.trim_end_matches('/')))
        .unwrap_or_else(|| url.to_string())
}

/// [`reverse_override`] on every `<url>` of an HTTP `Link` header.
pub fn reverse_link_header(
    value: &str,
    overrides: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        out.push_str(&rest[..=open]);
        out.push_str(&reverse_override(&rest[open + 1..open + close], overrides));
        rest = &rest[open + close..];
    }
    out.push_str(rest);
    out
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
    fn works_when_an_overridden_server_links_to_its_own_pages() {
        let o: std::collections::BTreeMap<String, String> = [
            ("https://api.github.com", "https://ghe.example.com/api/v3/"),
            ("https://github.com", "https://ghe.example.com"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let link = r#"<https://ghe.example.com/api/v3/repositories/7/issues?page=2>; rel="next", <https://ghe.example.com/login>; rel="x", <https://other.example/y>; rel="last""#;
        assert_eq!(
            reverse_link_header(link, &o),
            r#"<https://api.github.com/repositories/7/issues?page=2>; rel="next", <https://github.com/login>; rel="x", <https://other.example/y>; rel="last""#
        );
        // A longer host that merely starts like the target is not the target.
        assert_eq!(
            reverse_override("https://ghe.example.com.evil/x", &o),
            "https://ghe.example.com.evil/x"
        );
    }

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
