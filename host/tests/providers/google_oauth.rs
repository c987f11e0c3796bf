//! Google's OAuth endpoints on loopback, from the OAuth 2.0 for web server apps guide:
//! the authorize endpoint (checks client, PKCE S256, offline access, consent; approves at
//! once and redirects back with a code) and the token endpoint (client credentials in the
//! form, the PKCE verifier checked, a refresh token only from the code exchange, the
//! granted scopes in `scope`, `invalid_grant` for a stale refresh token).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "1234-abc.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-never-in-clear";

/// Told each access token issued, with the scopes it carries.
pub type Issued = Box<dyn Fn(&str, &[String]) + Send>;

pub struct Oauth {
    /// code → (challenge, redirect, scopes)
    codes: HashMap<String, (String, String, String)>,
    /// refresh token → scopes
    refresh: HashMap<String, String>,
    pub refresh_grants: usize,
    /// The `scope` of each authorize request, in order.
    pub asked: Vec<String>,
    n: usize,
    issued: Issued,
}

pub type Shared = Arc<Mutex<Oauth>>;

/// The endpoints; `issued` hands each new access token to the API fake.
pub fn new(issued: Issued) -> Shared {
    Arc::new(Mutex::new(Oauth {
        codes: HashMap::new(),
        refresh: HashMap::new(),
        refresh_grants: 0,
        asked: Vec::new(),
        n: 0,
        issued,
    }))
}

async fn authorize(State(o): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline", "no refresh token without it");
    assert_eq!(q["prompt"], "consent");
    let code = format!("4/0Ab{}", uuid::Uuid::new_v4().simple());
    let scope = q["scope"].clone();
    let pending = (
        q["code_challenge"].clone(),
        q["redirect_uri"].clone(),
        scope.clone(),
    );
    let mut o = o.lock().unwrap();
    o.asked.push(scope.clone());
    o.codes.insert(code.clone(), pending);
    let back = reqwest::Url::parse_with_params(
        &q["redirect_uri"],
        &[
            ("state", q["state"].as_str()),
            ("code", &code),
            ("scope", &scope),
        ],
    )
    .unwrap();
    Redirect::to(back.as_str()).into_response()
}

fn invalid_grant(why: &str) -> Response {
    let body = json!({"error": "invalid_grant", "error_description": why});
    (axum::http::StatusCode::BAD_REQUEST, Json(body)).into_response()
}

async fn token(State(o): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        let body = json!({"error": "invalid_client", "error_description": "The OAuth client was not found."});
        return (axum::http::StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let mut o = o.lock().unwrap();
    o.n += 1;
    let access = format!("ya29.a0-{}", o.n);
    let scope = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((challenge, redirect, scope)) = o.codes.remove(&form["code"]) else {
                return invalid_grant("Bad Request");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if computed != challenge || form.get("redirect_uri") != Some(&redirect) {
                return invalid_grant("Missing code verifier.");
            }
            let refresh = format!("1//0g-{}", uuid::Uuid::new_v4().simple());
            o.refresh.insert(refresh.clone(), scope.clone());
            let answer = json!({"access_token": access, "expires_in": 3599, "scope": scope,
                "token_type": "Bearer", "refresh_token": refresh});
            let scopes: Vec<String> = scope.split(' ').map(String::from).collect();
            (o.issued)(&access, &scopes);
            return Json(answer).into_response();
        }
        Some("refresh_token") => {
            let Some(scope) = o.refresh.get(&form["refresh_token"]).cloned() else {
                return invalid_grant("Token has been expired or revoked.");
            };
            o.refresh_grants += 1;
            scope
        }
        _ => return invalid_grant("unsupported grant"),
    };
    let scopes: Vec<String> = scope.split(' ').map(String::from).collect();
    (o.issued)(&access, &scopes);
    // Google sends no new refresh token on a refresh.
    Json(
        json!({"access_token": access, "expires_in": 3599, "scope": scope, "token_type": "Bearer"}),
    )
    .into_response()
}

/// `/o/oauth2/v2/auth` and `/token`.
pub fn router(o: Shared) -> Router {
    Router::new()
        .route("/o/oauth2/v2/auth", get(authorize))
        .route("/token", post(token))
        .with_state(o)
}

/// An HTTP client that does not follow redirects (the consent dance is followed by hand).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// As a platform admin: point `provider`'s OAuth at `oauth` and its API origins at `api`
/// (one address may serve both), and set the OAuth client.
pub async fn configure(
    http: &reqwest::Client,
    base: &str,
    root: &str,
    provider: &str,
    (oauth, api): (&str, &str),
    apis: &[&str],
) {
    let mut urls = serde_json::Map::new();
    for origin in [
        "https://accounts.google.com",
        "https://oauth2.googleapis.com",
    ] {
        urls.insert(origin.to_string(), json!(oauth));
    }
    for origin in apis {
        urls.insert(origin.to_string(), json!(api));
    }
    admin_setup(
        http,
        base,
        root,
        provider,
        json!({ "base_urls": urls }),
        (CLIENT_ID, CLIENT_SECRET),
    )
    .await;
}

/// As a platform admin: save `provider`'s `settings` and set its OAuth client.
pub async fn admin_setup(
    http: &reqwest::Client,
    base: &str,
    root: &str,
    provider: &str,
    settings: serde_json::Value,
    (client_id, client_secret): (&str, &str),
) {
    let admin = |path: &str, body: serde_json::Value| {
        http.put(format!("{base}/api/admin/providers/{provider}/{path}"))
            .bearer_auth(root)
            .json(&body)
            .send()
    };
    let saved = admin("settings", settings).await.unwrap();
    assert_eq!(saved.status(), 200, "{:?}", saved.text().await);
    let client = json!({"client_id": client_id, "client_secret": client_secret});
    assert_eq!(admin("oauth", client).await.unwrap().status(), 200);
}

/// As the user with `key`: connect `provider` with `body`, approve on Google's (fake)
/// consent screen, follow the callback; the URL the browser ends on.
pub async fn connect(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    provider: &str,
    fake: &str,
    body: serde_json::Value,
) -> String {
    let authorize = ("https://accounts.google.com", fake, "/o/oauth2/v2/auth?");
    consent(http, base, key, provider, body, authorize).await
}

/// As the user with `key`: connect `provider` with `body`, approve on the provider's
/// (fake) consent screen, follow the callback; the URL the browser ends on.
/// `(origin, fake, path)`: the authorize URL must lead to `fake` + `path` (the admin's
/// base-URL override of `origin`).
pub async fn consent(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    provider: &str,
    body: serde_json::Value,
    (origin, fake, path): (&str, &str, &str),
) -> String {
    let resp = http
        .post(format!("{base}/api/integrations/{provider}/connect"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let auth_url = resp.json::<serde_json::Value>().await.unwrap()["auth_url"]
        .as_str()
        .unwrap()
        .replace(origin, fake);
    assert!(auth_url.starts_with(&format!("{fake}{path}")), "{auth_url}");
    let approve = http.get(&auth_url).send().await.unwrap();
    let back = approve.headers()["location"].to_str().unwrap().to_string();
    let done = http.get(&back).send().await.unwrap();
    done.headers()["location"].to_str().unwrap().to_string()
}
