//! `/api/auth/…`: signing in from a browser. A password (argon2id) or a one-time
//! sign-in link opens a session: an HttpOnly, SameSite=Lax cookie (Secure and `__Host-`
//! prefixed when served over HTTPS) holding 32 random bytes the database keeps only
//! hashed, and a CSRF token the page sends back on every write. Also where a JWT
//! bearer's subject becomes a user.

use std::num::NonZeroU32;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, cookie};
use super::orgs::{Membership, memberships};
use super::{ApiError, AppState, Payload};
use crate::db::{SessionRow, User, now_ms};
use crate::jwt::{JwtConfig, JwtVerifier};

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// Emails the sign-in throttle remembers before it forgets idle ones.
const MAX_THROTTLED_EMAILS: usize = 100_000;
/// How long a one-time sign-in link stays valid.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// How browsers and foreign tokens sign in.
pub struct SignIn {
    /// Mark cookies `Secure` (and use the `__Host-` name): the public URL is HTTPS.
    pub secure_cookies: bool,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Bearer JWTs from a configured issuer.
    pub jwt: Option<JwtVerifier>,
    /// Password attempts per email (brute force costs a minute per 10 guesses).
    attempts: DefaultKeyedRateLimiter<String>,
}

impl SignIn {
    /// Sign-in settings; sessions last a week.
    pub fn new(secure_cookies: bool, jwt: Option<JwtConfig>) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(10).expect("nonzero"));
        SignIn {
            secure_cookies,
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            jwt: jwt.map(JwtVerifier::new),
            attempts: RateLimiter::keyed(quota),
        }
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-trb_session"
        } else {
            "trb_session"
        }
    }

    fn set_cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        let v = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.cookie_name()
        );
        HeaderValue::from_str(&v).expect("cookie is ASCII")
    }
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt =
        SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?
        .to_string())
}

/// Refuse passwords too short to resist guessing.
pub fn check_password_strength(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD || password.len() > 1024 {
        return Err(ApiError::BadRequest(format!(
            "a password needs {MIN_PASSWORD} to 1024 characters"
        )));
    }
    Ok(())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// `POST /api/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// `POST /api/auth/link`: the token from a sign-in link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    token: String,
}

/// `PUT /api/auth/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The password in use (absent when none was ever set).
    current: Option<String>,
    /// The new one (at least 10 characters).
    new: String,
}

/// Who is signed in, and how.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The user.
    pub user: UserView,
    /// Their organizations and roles.
    pub organizations: Vec<Membership>,
    /// What cookie-authenticated writes send in `X-CSRF-Token` (absent for bearer callers).
    pub csrf_token: Option<String>,
    /// When the session ends (ms since the epoch; absent for bearer callers).
    pub expires_at: Option<i64>,
}

/// A user as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    id: String,
    email: String,
    is_admin: bool,
    plan: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.clone(),
            email: u.email.clone(),
            is_admin: u.is_admin,
            plan: u.plan.clone(),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

/// Sign-in bodies must be JSON: a cross-site form can only send form encodings or
/// `text/plain` without a CORS preflight, so a foreign page cannot sign a visitor in as
/// someone else (login CSRF).
fn json_only(headers: &HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !json {
        return Err(ApiError::BadRequest(
            "send the sign-in as `Content-Type: application/json`".into(),
        ));
    }
    Ok(())
}

async fn open_session(state: &AppState, user: &User) -> Result<Response, ApiError> {
    let ttl = state.sign_in.session_ttl;
    let expires_at = now_ms() + ttl.as_millis() as i64;
    let (id, csrf) = state.db().create_session(&user.id, expires_at).await?;
    let view = SessionView {
        user: user.into(),
        organizations: memberships(state, user).await?,
        csrf_token: Some(csrf),
        expires_at: Some(expires_at),
    };
    let mut resp = Json(view).into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, state.sign_in.set_cookie(&id, ttl.as_secs()));
    Ok(resp)
}

/// Sign in with an email and password: sets the session cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest, security(()),
    responses((status = 200, body = SessionView, description = "Signed in; `Set-Cookie` holds the session"),
        (status = 400, body = super::error::ErrorBody, description = "Not a JSON body"),
        (status = 401, body = super::error::ErrorBody, description = "Wrong email or password"),
        (status = 429, body = super::error::ErrorBody, description = "Too many attempts for this email")))]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Payload,
) -> Result<Response, ApiError> {
    json_only(&headers)?;
    let req: LoginRequest = parse(&body)?;
    let email = req.email.trim().to_lowercase();
    if email.len() > 254 {
        return Err(ApiError::BadCredentials("wrong email or password".into()));
    }
    let attempts = &state.sign_in.attempts;
    // Random emails must not grow the limiter without bound: forget keys whose window
    // has passed once there are many.
    if attempts.len() > MAX_THROTTLED_EMAILS {
        attempts.retain_recent();
    }
    if attempts.check_key(&email).is_err() {
        return Err(ApiError::TooManyRequests(
            "too many sign-in attempts for this email; wait a minute".into(),
        ));
    }
    let wrong = || ApiError::BadCredentials("wrong email or password".into());
    let found = state.db().user_with_password(&email).await?;
    // Unknown emails cost the same hash as known ones, so timing does not tell them apart.
    let phc = found
        .as_ref()
        .and_then(|(_, h)| h.clone())
        .unwrap_or_else(|| DUMMY.clone());
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
    match found {
        Some((user, Some(_))) if ok => open_session(&state, &user).await,
        _ => Err(wrong()),
    }
}

static DUMMY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not anyone's password").expect("argon2"));

/// Spend a one-time sign-in link (`tributary users create` prints one): sets the cookie.
#[utoipa::path(post, path = "/api/auth/link", tag = "auth", request_body = LinkRequest, security(()),
    responses((status = 200, body = SessionView, description = "Signed in"),
        (status = 400, body = super::error::ErrorBody, description = "Not a JSON body"),
        (status = 401, body = super::error::ErrorBody, description = "Unknown, spent or expired link")))]
pub async fn link(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Payload,
) -> Result<Response, ApiError> {
    json_only(&headers)?;
    let req: LinkRequest = parse(&body)?;
    let token = req.token.trim();
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadCredentials(
            "this sign-in link is not valid".into(),
        ));
    }
    match state.db().redeem_sign_in_link(token).await? {
        Some(user) => open_session(&state, &user).await,
        None => Err(ApiError::BadCredentials(
            "this sign-in link was used or has expired; ask for a new one".into(),
        )),
    }
}

/// Who is calling, their organizations, and the session's CSRF token.
#[utoipa::path(get, path = "/api/auth/session", tag = "auth",
    responses((status = 200, body = SessionView), (status = 401, body = super::error::ErrorBody, description = "Not signed in")))]
pub async fn current(
    State(state): State<AppState>,
    Caller(user): Caller,
    session: Option<axum::Extension<SessionRow>>,
) -> Result<Json<SessionView>, ApiError> {
    // Left by `Caller` when the cookie authenticated this request (never for bearers).
    let session = session.map(|axum::Extension(s)| s);
    Ok(Json(SessionView {
        user: (&user).into(),
        organizations: memberships(&state, &user).await?,
        csrf_token: session.as_ref().map(|s| s.csrf.clone()),
        expires_at: session.map(|s| s.expires_at),
    }))
}

/// Sign out: the session ends here and the cookie is cleared.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses((status = 204, description = "Signed out"), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody, description = "No CSRF token")))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _caller: Caller,
) -> Result<Response, ApiError> {
    if let Some(id) = cookie(&headers, state.sign_in.cookie_name()) {
        state.db().delete_session(id).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, state.sign_in.set_cookie("", 0));
    Ok(resp)
}

/// Set or change the caller's password; every session of theirs ends.
#[utoipa::path(put, path = "/api/auth/password", tag = "auth", request_body = PasswordRequest,
    responses((status = 204, description = "Changed; sign in again"), (status = 400, body = super::error::ErrorBody, description = "Too short"),
        (status = 401, body = super::error::ErrorBody, description = "Wrong current password")))]
pub async fn password(
    State(state): State<AppState>,
    Caller(user): Caller,
    body: Payload,
) -> Result<Response, ApiError> {
    let req: PasswordRequest = parse(&body)?;
    check_password_strength(&req.new)?;
    let (_, phc) = state
        .db()
        .user_with_password(&user.email)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if let Some(phc) = phc {
        let current = req.current.unwrap_or_default();
        let ok = tokio::task::spawn_blocking(move || verify_password(&current, &phc))
            .await
            .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
        if !ok {
            return Err(ApiError::BadCredentials(
                "the current password is wrong".into(),
            ));
        }
    }
    let new = req.new;
    let phc = tokio::task::spawn_blocking(move || hash_password(&new))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))??;
    state.db().set_password_hash(&user.id, Some(&phc)).await?;
    state.db().delete_sessions_of(&user.id).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, state.sign_in.set_cookie("", 0));
    Ok(resp)
}

/// The user a verified JWT names: linked before, or created now when allowed.
pub async fn jwt_user(state: &AppState, jwt: &JwtVerifier, token: &str) -> Result<User, ApiError> {
    let id = jwt.verify(token).await.map_err(|e| {
        tracing::info!(reason = %e, "bearer JWT refused");
        ApiError::Unauthorized
    })?;
    let db = state.db();
    if let Some(user) = db.user_by_identity(&id.issuer, &id.subject).await? {
        return Ok(user);
    }
    if !jwt.config().create_users {
        tracing::info!(subject = %id.subject, "JWT subject has no user and creating users is off");
        return Err(ApiError::Unauthorized);
    }
    // Never link by email: the issuer may not have verified it. A taken or absent email
    // gets an address naming the subject instead.
    let email = match &id.email {
        Some(e) if db.user_by_email(e).await?.is_none() => e.clone(),
        _ => format!(
            "{}@jwt.invalid",
            &crate::db::hash_key(&format!("{}|{}", id.issuer, id.subject))[..24]
        ),
    };
    match db.create_user(&email, false).await {
        Ok(user) => db.link_identity(&id.issuer, &id.subject, &user.id).await?,
        Err(e) => {
            tracing::info!(error = %format!("{e:#}"), "creating a JWT user raced; reading the winner")
        }
    }
    db.user_by_identity(&id.issuer, &id.subject)
        .await?
        .ok_or(ApiError::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_cookies_over_https_are_secure_and_host_prefixed() {
        let https = SignIn::new(true, None).set_cookie("ab", 60);
        let https = https.to_str().unwrap();
        assert!(
            https.starts_with("__Host-trb_session=ab; Path=/;"),
            "{https}"
        );
        for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Max-Age=60"] {
            assert!(https.contains(flag), "{flag}: {https}");
        }
        let http = SignIn::new(false, None).set_cookie("ab", 60);
        assert!(!http.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn errors_when_a_password_is_short_or_wrong() {
        assert!(check_password_strength("short").is_err());
        let phc = hash_password("a long enough passphrase").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("a long enough passphrase", &phc));
        assert!(!verify_password("a long enough passphrasE", &phc));
        assert!(!verify_password("anything", "not a phc string"));
    }
}
