//! Bearer JWTs from a product that already has users (Clerk, Auth0, any OIDC issuer):
//! verified against the issuer's JWKS (fetched on first use, refetched when a token names
//! a key we have not seen, at most once per `REFETCH`), its issuer and audience, and
//! mapped by one claim to a Tributary user, created on first sight when allowed.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Mutex;

/// Longest JWKS document accepted.
const MAX_JWKS: usize = 1 << 20;
/// Least time between two JWKS fetches (a flood of unknown `kid`s costs one fetch).
const REFETCH: Duration = Duration::from_secs(30);
/// Clock skew tolerated on `exp` / `nbf`.
const LEEWAY_SECS: u64 = 30;
/// Only public-key algorithms: a shared-secret (HS*) token would let anyone holding the
/// JWKS forge one, and `none` is never accepted.
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Where tokens come from and how they map to users.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The issuer's JWKS document.
    pub jwks_url: String,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry.
    pub audience: String,
    /// The claim naming the user (default `sub`).
    pub user_claim: String,
    /// Create a user the first time a subject is seen.
    pub create_users: bool,
}

impl JwtConfig {
    /// From `TRIBUTARY_JWT_JWKS_URL`, `_ISSUER`, `_AUDIENCE`, `_USER_CLAIM` and
    /// `_CREATE_USERS`; `None` unless the first three are set.
    pub fn from_env() -> anyhow::Result<Option<JwtConfig>> {
        let var = |k: &str| {
            std::env::var(format!("TRIBUTARY_JWT_{k}"))
                .ok()
                .filter(|v| !v.trim().is_empty())
        };
        let (Some(jwks_url), Some(issuer), Some(audience)) =
            (var("JWKS_URL"), var("ISSUER"), var("AUDIENCE"))
        else {
            if var("JWKS_URL").is_some() || var("ISSUER").is_some() {
                anyhow::bail!(
                    "JWT sign-in needs TRIBUTARY_JWT_JWKS_URL, _ISSUER and _AUDIENCE together"
                );
            }
            return Ok(None);
        };
        url::Url::parse(&jwks_url).map_err(|e| anyhow::anyhow!("TRIBUTARY_JWT_JWKS_URL: {e}"))?;
        Ok(Some(JwtConfig {
            jwks_url,
            issuer,
            audience,
            user_claim: var("USER_CLAIM").unwrap_or_else(|| "sub".into()),
            create_users: var("CREATE_USERS")
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes")),
        }))
    }
}

/// Why a token was refused (said to the log, never to the caller).
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Malformed, badly signed, expired, wrong issuer or audience, unknown key.
    #[error("token refused: {0}")]
    Invalid(String),
    /// The JWKS could not be fetched or read.
    #[error("JWKS unavailable: {0}")]
    Jwks(String),
}

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The token's `iss`.
    pub issuer: String,
    /// The configured claim's value.
    pub subject: String,
    /// The `email` claim, when present.
    pub email: Option<String>,
}

/// Verifies tokens against one issuer's keys.
pub struct JwtVerifier {
    config: JwtConfig,
    http: reqwest::Client,
    keys: Mutex<(JwkSet, Option<Instant>)>,
}

impl JwtVerifier {
    /// A verifier; keys are fetched on first use.
    pub fn new(config: JwtConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest client");
        JwtVerifier {
            config,
            http,
            keys: Mutex::new((JwkSet { keys: Vec::new() }, None)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// Whether `token` looks like a compact JWS (three base64url parts).
    pub fn looks_like_jwt(token: &str) -> bool {
        token.len() < 16 * 1024
            && token.split('.').count() == 3
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    }

    /// Verify a token: signature by a JWKS key, algorithm, `exp`, `nbf`, `iss`, `aud`.
    pub async fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        let invalid = |e: jsonwebtoken::errors::Error| JwtError::Invalid(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(JwtError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| JwtError::Invalid("no `kid` in the header".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(invalid)?;
        let claims = data.claims;
        let subject = match claims.get(&self.config.user_claim) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 255 => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(JwtError::Invalid(format!(
                    "no usable `{}` claim",
                    self.config.user_claim
                )));
            }
        };
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| e.contains('@') && e.len() <= 254)
            .map(str::to_lowercase);
        Ok(Identity {
            issuer: self.config.issuer.clone(),
            subject,
            email,
        })
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, JwtError> {
        let mut keys = self.keys.lock().await;
        if keys.0.find(kid).is_none() && keys.1.is_none_or(|at| at.elapsed() >= REFETCH) {
            keys.1 = Some(Instant::now());
            keys.0 = self.fetch().await?;
        }
        let jwk = keys
            .0
            .find(kid)
            .ok_or_else(|| JwtError::Invalid(format!("unknown key `{kid}`")))?;
        DecodingKey::from_jwk(jwk).map_err(|e| JwtError::Invalid(e.to_string()))
    }

    async fn fetch(&self) -> Result<JwkSet, JwtError> {
        let fail = |e: String| JwtError::Jwks(e);
        let mut resp = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        if resp.content_length().is_some_and(|n| n as usize > MAX_JWKS) {
            return Err(fail("document too large".into()));
        }
        // Read in chunks against the cap: a missing or false length must not let a
        // body of any size into memory.
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
            if body.len() + chunk.len() > MAX_JWKS {
                return Err(fail("document too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| fail(format!("not a JWKS: {e}")))
    }
}
