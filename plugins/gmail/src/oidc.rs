//! Pub/Sub push authentication: with it on, each push carries `Authorization: Bearer
//! <JWT>` that Google signed (RS256) for the audience the admin chose. `jsonwebtoken`
//! checks the signature against Google's published keys (`oauth2/v3/certs`, fetched per
//! delivery: the per-app webhook has no integration whose storage could cache them), the
//! issuer, the audience and the expiry; the service account's verified email is checked
//! here when configured.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tributary_sdk::http;

/// Google's signing keys for ID tokens, as a JWK set.
pub const CERTS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Tolerated clock difference, seconds.
const LEEWAY_S: u64 = 60;

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
}

/// Check `token` for `audience` (and, when given, the service `account`); the reason
/// when it fails.
pub fn verify(token: &str, audience: &str, account: Option<&str>) -> Result<(), String> {
    if token.is_empty() {
        return Err("no bearer token in the push".into());
    }
    let header = decode_header(token).map_err(|e| format!("unreadable token: {e}"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!(
            "the token is signed with {:?}, not RS256",
            header.alg
        ));
    }
    let kid = header.kid.ok_or("the token names no key")?;
    let resp = http::Request::get(CERTS_URL)
        .send()
        .map_err(|e| format!("Google's keys could not be fetched: {e}"))?;
    if resp.status() != 200 {
        return Err(format!("Google's keys answered {}", resp.status()));
    }
    let keys: JwkSet = resp
        .json()
        .map_err(|e| format!("Google's keys are unreadable: {e}"))?;
    let jwk = keys
        .find(&kid)
        .ok_or("the token's key is not one of Google's")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("Google's key is unusable: {e}"))?;
    let mut rules = Validation::new(Algorithm::RS256);
    rules.set_audience(&[audience]);
    rules.set_issuer(&["https://accounts.google.com", "accounts.google.com"]);
    rules.set_required_spec_claims(&["exp", "aud", "iss"]);
    rules.leeway = LEEWAY_S;
    let claims = decode::<Claims>(token, &key, &rules)
        .map_err(|e| format!("the token does not verify: {e}"))?
        .claims;
    if let Some(want) = account
        && (claims.email.as_deref() != Some(want) || claims.email_verified != Some(true))
    {
        return Err("the token is not the push subscription's service account".into());
    }
    Ok(())
}
