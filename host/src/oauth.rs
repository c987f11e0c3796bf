//! OAuth 2.0 with the `oauth2` crate, driven by the plugin manifest (endpoints, scopes,
//! PKCE, client authentication) and the client id/secret an admin configured.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
};
use url::Url;

use crate::crypto::Keyring;
use crate::db::now_ms;
use crate::model::Manifest;
use crate::model::{Auth, ClientAuth, Oauth2};
use crate::services::Services;

/// Tokens from a code exchange or a refresh.
#[derive(Clone)]
pub struct TokenSet {
    /// Access token.
    pub access: String,
    /// Refresh token, when the provider issued one.
    pub refresh: Option<String>,
    /// Expiry, ms since the epoch.
    pub expires_at: Option<i64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

/// Why an OAuth step failed.
#[derive(Debug, thiserror::Error)]
pub enum OauthError {
    /// The provider has no OAuth configuration or the admin set no client.
    #[error("{0}")]
    NotConfigured(String),
    /// The provider refused (bad code, revoked refresh token, ...).
    #[error("the provider refused: {0}")]
    Refused(String),
    /// Network or server trouble.
    #[error("the token endpoint failed: {0}")]
    Transient(String),
}

/// The manifest's OAuth settings, or an error naming the provider.
pub fn settings(manifest: &Manifest) -> Result<&Oauth2, OauthError> {
    match &manifest.auth {
        Auth::Oauth2(o) => Ok(o),
        _ => Err(OauthError::NotConfigured(format!(
            "provider `{}` does not use OAuth",
            manifest.id
        ))),
    }
}

/// The manifest's OAuth endpoints as an admin approves them.
pub fn endpoints_of(manifest: &Manifest) -> Option<crate::services::OauthEndpoints> {
    settings(manifest)
        .ok()
        .map(|o| crate::services::OauthEndpoints {
            authorize_url: o.authorize_url.clone(),
            token_url: o.token_url.clone(),
            revoke_url: o.revoke_url.clone(),
        })
}

/// The endpoints the client secret and refresh tokens go to are the ones an admin
/// approved: https only, and pinned when the admin configures the client (or, for a
/// client from the environment, at first use); a plugin version that changes them is
/// refused until an admin approves again (`PUT /api/admin/providers/{id}/oauth`).
pub async fn approved_endpoints(
    services: &Services,
    manifest: &Manifest,
) -> Result<(), OauthError> {
    let Some(now) = endpoints_of(manifest) else {
        return Ok(());
    };
    for u in [
        Some(&now.authorize_url),
        Some(&now.token_url),
        now.revoke_url.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if !Url::parse(u).is_ok_and(|u| u.scheme() == "https") {
            return Err(OauthError::NotConfigured(format!(
                "OAuth endpoint {u:?} of `{}` is not an https URL",
                manifest.id
            )));
        }
    }
    let mut current = services.settings(&manifest.id);
    match &current.oauth_endpoints {
        Some(pinned) if *pinned == now => Ok(()),
        Some(pinned) => Err(OauthError::NotConfigured(format!(
            "plugin `{}` version {} changed its OAuth endpoints (approved token URL {:?}, now {:?}); \
             an admin must approve them again (PUT /api/admin/providers/{}/oauth)",
            manifest.id, manifest.version, pinned.token_url, now.token_url, manifest.id
        ))),
        None => {
            current.oauth_endpoints = Some(now);
            services
                .set_settings(&manifest.id, current)
                .await
                .map_err(|e| OauthError::Transient(e.to_string()))?;
            Ok(())
        }
    }
}

/// The client id and secret for a provider: set through the admin API (sealed in the
/// database), else `TRIBUTARY_OAUTH_<PROVIDER>__CLIENT_ID` / `__CLIENT_SECRET`; only
/// while the manifest's endpoints are the approved ones.
pub async fn client_credentials(
    services: &Services,
    keyring: &Keyring,
    manifest: &Manifest,
) -> Result<(String, String), OauthError> {
    approved_endpoints(services, manifest).await?;
    let provider = manifest.id.as_str();
    let stored = services
        .db
        .oauth_client(provider)
        .await
        .map_err(|e| OauthError::Transient(e.to_string()))?;
    if let Some((id, sealed)) = stored {
        let secret = keyring
            .open_sealed(&format!("oauth-client:{provider}"), &sealed)
            .map_err(|e| {
                OauthError::NotConfigured(format!("cannot open the client secret: {e}"))
            })?;
        return Ok((id, String::from_utf8_lossy(&secret).into_owned()));
    }
    let var = |suffix: &str| {
        std::env::var(format!(
            "TRIBUTARY_OAUTH_{}__{suffix}",
            provider.to_ascii_uppercase()
        ))
        .ok()
    };
    match (var("CLIENT_ID"), var("CLIENT_SECRET")) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => Err(OauthError::NotConfigured(format!(
            "an admin has not configured the OAuth client of `{provider}`"
        ))),
    }
}

/// An endpoint URL with the admin's base-URL override applied.
fn endpoint(services: &Services, provider: &str, raw: &str) -> Result<Url, OauthError> {
    let url = Url::parse(raw)
        .map_err(|e| OauthError::NotConfigured(format!("bad OAuth endpoint {raw:?}: {e}")))?;
    Ok(crate::egress::apply_override(&url, &services.settings(provider).base_urls).unwrap_or(url))
}

type ReadyClient = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(
    services: &Services,
    manifest: &Manifest,
    creds: (String, String),
    redirect: &str,
) -> Result<ReadyClient, OauthError> {
    let o = settings(manifest)?;
    let bad = |e: url::ParseError| OauthError::NotConfigured(e.to_string());
    let auth = endpoint(services, &manifest.id, &o.authorize_url)?;
    let token = endpoint(services, &manifest.id, &o.token_url)?;
    Ok(BasicClient::new(ClientId::new(creds.0))
        .set_client_secret(ClientSecret::new(creds.1))
        .set_auth_uri(AuthUrl::from_url(auth))
        .set_token_uri(TokenUrl::from_url(token))
        .set_redirect_uri(RedirectUrl::new(redirect.to_string()).map_err(bad)?)
        .set_auth_type(match o.client_auth {
            ClientAuth::Basic => AuthType::BasicAuth,
            ClientAuth::RequestBody => AuthType::RequestBody,
        }))
}

/// The URL to send the user to, the state to remember and the PKCE verifier (empty
/// when the manifest does not use PKCE). `scopes` are the ones this connection asks for
/// ([`crate::scopes::requested`]).
pub fn authorize(
    services: &Services,
    manifest: &Manifest,
    creds: (String, String),
    redirect: &str,
    scopes: &[String],
) -> Result<(String, String, String), OauthError> {
    let o = settings(manifest)?;
    let c = client(services, manifest, creds, redirect)?;
    let mut req = c.authorize_url(CsrfToken::new_random);
    let separator = o.scope_separator.as_deref().unwrap_or(" ");
    match o.scope_param.as_deref() {
        // Providers that read scopes elsewhere or join them otherwise (Slack: `user_scope`,
        // commas) get them as one extra parameter.
        Some(param) if param != "scope" => {
            req = req.add_extra_param(param.to_string(), scopes.join(separator));
        }
        _ if separator != " " => {
            req = req.add_extra_param("scope", scopes.join(separator));
        }
        _ => {
            for s in scopes {
                req = req.add_scope(Scope::new(s.clone()));
            }
        }
    }
    for (k, v) in &o.extra_params {
        req = req.add_extra_param(k.clone(), v.clone());
    }
    let mut verifier = String::new();
    if o.pkce {
        let (challenge, v) = PkceCodeChallenge::new_random_sha256();
        req = req.set_pkce_challenge(challenge);
        verifier = v.secret().clone();
    }
    let (url, state) = req.url();
    Ok((url.to_string(), state.secret().clone(), verifier))
}

fn token_set<T: TokenResponse>(
    t: &T,
    previous_refresh: Option<String>,
    requested: &[String],
) -> TokenSet {
    TokenSet {
        access: t.access_token().secret().clone(),
        // A provider that does not rotate refresh tokens omits it: keep the old one.
        refresh: t
            .refresh_token()
            .map(|r| r.secret().clone())
            .or(previous_refresh),
        expires_at: t.expires_in().map(|d| now_ms() + d.as_millis() as i64),
        scopes: t
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_else(|| requested.to_vec()),
    }
}

fn classify<E: std::error::Error>(
    e: oauth2::RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> OauthError {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => OauthError::Refused(r.error().to_string()),
        oauth2::RequestTokenError::Request(r) => OauthError::Transient(r.to_string()),
        oauth2::RequestTokenError::Parse(p, _) => {
            OauthError::Transient(format!("unreadable token response: {p}"))
        }
        oauth2::RequestTokenError::Other(o) => OauthError::Transient(o),
    }
}

/// Exchange an authorization code; `requested` stand for the granted scopes when the
/// answer does not list them.
pub async fn exchange(
    services: &Services,
    manifest: &Manifest,
    creds: (String, String),
    redirect: &str,
    code: &str,
    verifier: &str,
    requested: &[String],
) -> Result<TokenSet, OauthError> {
    let c = client(services, manifest, creds, redirect)?;
    let mut req = c.exchange_code(AuthorizationCode::new(code.to_string()));
    if !verifier.is_empty() {
        req = req.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()));
    }
    let o = settings(manifest)?;
    let http = reshaping_client(services, o);
    let t = req.request_async(&http).await.map_err(classify)?;
    Ok(token_set(&t, None, requested))
}

/// Use a refresh token; `granted` (the scopes held so far) stand for the answer's when
/// it lists none.
pub async fn refresh(
    services: &Services,
    manifest: &Manifest,
    creds: (String, String),
    refresh_token: &str,
    granted: &[String],
) -> Result<TokenSet, OauthError> {
    // The redirect URI plays no part in a refresh; the client type needs one.
    let c = client(services, manifest, creds, "http://localhost/")?;
    let token = RefreshToken::new(refresh_token.to_string());
    let http = reshaping_client(services, settings(manifest)?);
    let t = c
        .exchange_refresh_token(&token)
        .request_async(&http)
        .await
        .map_err(classify)?;
    Ok(token_set(&t, Some(refresh_token.to_string()), granted))
}

/// A token endpoint's answer, as the `oauth2` crate takes it from a custom client.
type TokenAnswer = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<oauth2::HttpResponse, oauth2::HttpClientError<reqwest::Error>>,
            > + Send,
    >,
>;

/// The host's HTTP client for token requests, reshaping answers that depart from RFC 6749
/// the ways the manifest declares (WIT 0.2.0): tokens below a JSON pointer, scopes joined
/// by another separator, and errors sent as `200 {"ok": false, "error": ...}` (Slack).
fn reshaping_client(
    services: &Services,
    o: &Oauth2,
) -> impl Fn(oauth2::HttpRequest) -> TokenAnswer {
    let http = services.http.clone();
    let pointer = o.token_pointer.clone();
    let separator = o.scope_separator.clone();
    move |req| {
        let http = http.clone();
        let pointer = pointer.clone();
        let separator = separator.clone();
        Box::pin(async move {
            let resp = oauth2::AsyncHttpClient::call(&http, req).await?;
            Ok(reshape(resp, pointer.as_deref(), separator.as_deref()))
        })
    }
}

/// See [`reshaping_client`]; answers that are not JSON objects pass unchanged.
fn reshape(
    resp: oauth2::HttpResponse,
    pointer: Option<&str>,
    separator: Option<&str>,
) -> oauth2::HttpResponse {
    let Ok(serde_json::Value::Object(root)) = serde_json::from_slice(resp.body()) else {
        return resp;
    };
    let (mut parts, _) = resp.into_parts();
    if root.get("ok") == Some(&serde_json::Value::Bool(false)) {
        let error = root
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("invalid_request");
        parts.status = oauth2::http::StatusCode::BAD_REQUEST;
        let body = serde_json::json!({ "error": error })
            .to_string()
            .into_bytes();
        return oauth2::HttpResponse::from_parts(parts, body);
    }
    // The pointer names where an authorization-code answer keeps the token; a refresh
    // answer may keep it at the root instead (Slack rotates user tokens so, with only
    // `{"id"}` left under `authed_user`): the object that holds `access_token` wins.
    let mut token = match pointer {
        Some(p) => match serde_json::Value::Object(root.clone()).pointer(p) {
            Some(serde_json::Value::Object(o)) if o.contains_key("access_token") => o.clone(),
            _ => root,
        },
        None => root,
    };
    token
        .entry("token_type")
        .or_insert_with(|| serde_json::Value::String("bearer".into()));
    if let (Some(sep), Some(serde_json::Value::String(scope))) = (separator, token.get_mut("scope"))
    {
        *scope = scope.split(sep).collect::<Vec<_>>().join(" ");
    }
    let body = serde_json::Value::Object(token).to_string().into_bytes();
    oauth2::HttpResponse::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::reshape;

    fn answer(status: u16, body: serde_json::Value) -> oauth2::HttpResponse {
        let mut r = oauth2::HttpResponse::new(body.to_string().into_bytes());
        *r.status_mut() = oauth2::http::StatusCode::from_u16(status).unwrap();
        r
    }

    fn json(r: &oauth2::HttpResponse) -> serde_json::Value {
        serde_json::from_slice(r.body()).unwrap()
    }

    #[test]
    fn works_when_a_slack_user_token_sits_below_authed_user() {
        let r = reshape(
            answer(
                200,
                serde_json::json!({"ok": true, "access_token": "xoxb-bot", "token_type": "bot",
                "authed_user": {"id": "U1", "scope": "channels:history,users:read",
                "access_token": "xoxp-user", "token_type": "user"}}),
            ),
            Some("/authed_user"),
            Some(","),
        );
        let v = json(&r);
        assert_eq!(v["access_token"], "xoxp-user");
        assert_eq!(v["scope"], "channels:history users:read");
    }

    #[test]
    fn works_when_a_rotated_slack_user_token_comes_back_at_the_root() {
        let r = reshape(
            answer(
                200,
                serde_json::json!({"ok": true, "access_token": "xoxe.xoxp-2", "token_type": "user",
                "refresh_token": "xoxe-1-next", "expires_in": 43200, "authed_user": {"id": "U1"}}),
            ),
            Some("/authed_user"),
            Some(","),
        );
        let v = json(&r);
        assert_eq!(v["access_token"], "xoxe.xoxp-2");
        assert_eq!(v["refresh_token"], "xoxe-1-next");
        assert_eq!(v["expires_in"], 43200);
    }

    #[test]
    fn errors_when_the_provider_says_ok_false_with_a_200() {
        let r = reshape(
            answer(
                200,
                serde_json::json!({"ok": false, "error": "invalid_code"}),
            ),
            Some("/authed_user"),
            None,
        );
        assert_eq!(r.status(), 400);
        assert_eq!(json(&r)["error"], "invalid_code");
    }

    #[test]
    fn works_when_the_answer_is_standard() {
        let r = reshape(
            answer(
                200,
                serde_json::json!({"access_token": "a", "expires_in": 10}),
            ),
            None,
            None,
        );
        assert_eq!(json(&r)["token_type"], "bearer");
        assert_eq!(json(&r)["access_token"], "a");
    }
}
