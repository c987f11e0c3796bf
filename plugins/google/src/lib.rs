//! What Google's APIs (Drive, Gmail, Calendar, YouTube) share, for their provider plugins:
//! the OAuth settings, the JSON error envelope mapped to the typed errors, and push
//! notification channels (`watch`, the `X-Goog-*` headers, `channels.stop`).

#![deny(missing_docs)]

pub mod channel;
pub mod error;

pub use error::{GoogleError, check};

use tributary_sdk::{Auth, Capabilities, Injection, ManifestBuilder, Oauth2, WebhookRouting};

/// Google's authorization endpoint.
pub const AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint.
pub const REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
/// The hosts every Google plugin talks to (OAuth is the host's, not listed).
pub const API_HOST: &str = "www.googleapis.com";

/// Google's authorization-code flow for `scopes` (full URLs): PKCE with S256, a refresh
/// token (`access_type=offline`; `prompt=consent` because Google issues one only at the
/// first consent otherwise), and the revocation endpoint.
///
/// ```
/// let o = tributary_google::oauth2(&["https://www.googleapis.com/auth/drive.readonly"]);
/// assert!(o.pkce);
/// assert!(o.extra_params.contains(&("access_type".into(), "offline".into())));
/// ```
pub fn oauth2(scopes: &[&str]) -> Oauth2 {
    let mut o = Oauth2::new(AUTHORIZE_URL, TOKEN_URL, scopes);
    o.pkce = true;
    o.revoke_url = Some(REVOKE_URL.into());
    o.extra_params = vec![
        ("access_type".into(), "offline".into()),
        ("prompt".into(), "consent".into()),
        ("include_granted_scopes".into(), "true".into()),
    ];
    o
}

/// A scope's full URL.
///
/// ```
/// assert_eq!(tributary_google::scope("drive.readonly"),
///     "https://www.googleapis.com/auth/drive.readonly");
/// ```
pub fn scope(name: &str) -> String {
    format!("https://www.googleapis.com/auth/{name}")
}

/// What every Google plugin's manifest says: OAuth with `scope` (a name such as
/// `drive.readonly`), the token as a bearer header, pull, incremental and push by
/// channels to a per-integration callback, and Google's API host. The plugin adds its
/// description, category, rate limits and fields.
///
/// ```
/// let m = tributary_google::manifest("gdrive", "Google Drive", "drive.readonly").build();
/// assert!(m.capabilities.subscribe);
/// assert_eq!(m.allowed_hosts, vec!["www.googleapis.com".to_string()]);
/// ```
pub fn manifest(id: &str, name: &str, scope_name: &str) -> ManifestBuilder {
    let scope = scope(scope_name);
    ManifestBuilder::new(id, name)
        .icon(id)
        .auth(Auth::Oauth2(oauth2(&[scope.as_str()])), Injection::Bearer)
        .capabilities(Capabilities {
            pull: true,
            incremental: true,
            webhooks: true,
            subscribe: true,
        })
        .allowed_host(API_HOST)
        .webhook(WebhookRouting::PerIntegration)
}
