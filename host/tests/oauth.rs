//! The OAuth dance against a fake authorization server on loopback: authorize, code,
//! token (PKCE, client authentication), refresh with rotation, revoked refresh token,
//! wrong / replayed / expired state and another user's state; credentials sealed at rest
//! (the raw database bytes hold no token) and key rotation.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tributary::credentials::CredentialStore;
use tributary::db::{Connect, OauthState, Owner, now_ms, status};
use tributary::runtime::{CallError, Integration};

const CLIENT_ID: &str = "client-123";
const CLIENT_SECRET: &str = "csecret-XYZ-never-in-clear";

#[derive(Default)]
struct Fake {
    /// code → (PKCE challenge, redirect URI)
    codes: HashMap<String, (String, String)>,
    access: HashSet<String>,
    refresh: HashSet<String>,
    issued: Vec<String>,
    refresh_grants: usize,
    n: usize,
    /// Lifetime of issued access tokens, seconds (0 means the default hour).
    expires_in: u64,
}

type Shared = Arc<Mutex<Fake>>;

fn issue(f: &mut Fake) -> Value {
    f.n += 1;
    let (a, r) = (
        format!("at-{}-{}", f.n, uuid::Uuid::new_v4().simple()),
        format!("rt-{}-{}", f.n, uuid::Uuid::new_v4().simple()),
    );
    f.access.insert(a.clone());
    f.refresh.insert(r.clone());
    f.issued.extend([a.clone(), r.clone()]);
    let expires_in = if f.expires_in == 0 {
        3600
    } else {
        f.expires_in
    };
    json!({"access_token": a, "refresh_token": r, "token_type": "bearer", "expires_in": expires_in, "scope": "read profile"})
}

async fn authorize(State(f): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline");
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    f.lock().unwrap().codes.insert(
        code.clone(),
        (q["code_challenge"].clone(), q["redirect_uri"].clone()),
    );
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        q["redirect_uri"], q["state"]
    ))
    .into_response()
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant"})),
    )
        .into_response()
}

async fn token(
    State(f): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let mut f = f.lock().unwrap();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((challenge, redirect)) = f.codes.remove(&form["code"]) else {
                return invalid_grant();
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if computed != challenge || form.get("redirect_uri") != Some(&redirect) {
                return invalid_grant();
            }
            Json(issue(&mut f)).into_response()
        }
        Some("refresh_token") => {
            // Rotation: a refresh token works once.
            if !f.refresh.remove(&form["refresh_token"]) {
                return invalid_grant();
            }
            f.refresh_grants += 1;
            Json(issue(&mut f)).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response(),
    }
}

fn bearer_ok(f: &Shared, headers: &HeaderMap) -> bool {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    token.is_some_and(|t| f.lock().unwrap().access.contains(t))
}

async fn fake_server(f: Shared) -> String {
    let router = Router::new()
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route(
            "/me",
            get(|State(f): State<Shared>, h: HeaderMap| async move {
                if !bearer_ok(&f, &h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                Json(json!({"id": "u-1", "name": "Ada Lovelace"})).into_response()
            }),
        )
        .route(
            "/items",
            get(|State(f): State<Shared>, h: HeaderMap| async move {
                if !bearer_ok(&f, &h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                Json(json!(["first", "second"])).into_response()
            }),
        )
        .with_state(f);
    format!("http://{}", serve(router).await)
}

struct Setup {
    served: Served,
    fake: Shared,
    alice: String,
    bob: String,
    http: reqwest::Client,
}

async fn setup(db_url: Option<String>) -> Setup {
    let served = serve_host(db_url, &["oauthy"], false).await;
    let db = served.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let (_, alice) = user_with_key(&db, "alice@t.test", false).await;
    let (bob_u, bob) = user_with_key(&db, "bob@t.test", false).await;
    db.create_org("acme", &bob_u).await.unwrap();
    let fake: Shared = Arc::default();
    let fake_url = fake_server(fake.clone()).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let put = |path: &str, body: Value| {
        http.put(format!("{}{path}", served.base))
            .bearer_auth(&root)
            .json(&body)
            .send()
    };
    let r = put(
        "/api/admin/providers/oauthy/settings",
        json!({"base_urls": {"https://auth.oauthy.test": fake_url, "https://api.oauthy.test": fake_url}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = put(
        "/api/admin/providers/oauthy/oauth",
        json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        !r.text().await.unwrap().contains(CLIENT_SECRET),
        "the secret is never echoed"
    );
    Setup {
        served,
        fake,
        alice,
        bob,
        http,
    }
}

impl Setup {
    /// Start connecting as `key` on `route` and let the fake approve; returns the callback URL.
    async fn approved_callback(&self, key: &str, route: &str) -> String {
        let resp = self
            .http
            .post(format!("{}{route}/connect", self.served.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let auth_url = resp.json::<Value>().await.unwrap()["auth_url"]
            .as_str()
            .unwrap()
            .to_string();
        let parsed = url::Url::parse(&auth_url).unwrap();
        let q: HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["scope"], "read profile");
        assert_eq!(
            q["redirect_uri"],
            format!("{}{route}/callback", self.served.base)
        );
        let approve = self.http.get(&auth_url).send().await.unwrap();
        assert_eq!(approve.status(), 303);
        approve.headers()["location"].to_str().unwrap().to_string()
    }

    /// Follow a callback URL (optionally as `key`); returns the frontend redirect's query.
    async fn callback(&self, url: &str, key: Option<&str>) -> HashMap<String, String> {
        let mut req = self.http.get(url);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 303);
        let loc = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(loc.host_str(), Some("frontend.test"));
        loc.query_pairs().into_owned().collect()
    }

    async fn integration(&self) -> tributary::db::Integration {
        let db = self.served.state.db();
        let alice = db.user_by_email("alice@t.test").await.unwrap().unwrap();
        db.integration(&Owner::User(alice.id), "oauthy")
            .await
            .unwrap()
            .unwrap()
    }

    async fn list(&self, id: &str) -> Result<Vec<String>, CallError> {
        let mut s = self
            .served
            .state
            .runtime
            .session("oauthy", Some(Integration::new(id, vec![])))
            .await?;
        Ok(s.list(&full(10))
            .await?
            .resources
            .into_iter()
            .map(|r| r.title)
            .collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_user_completes_the_oauth_dance() {
    dance(setup(None).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_user_completes_the_oauth_dance_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let s = setup(Some(url)).await;
    dance(s).await;
}

async fn dance(s: Setup) {
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    let q = s.callback(&cb, None).await;
    assert_eq!(
        (q.get("status").map(String::as_str), q.get("error")),
        (Some("connected"), None),
        "{q:?}"
    );
    let i = s.integration().await;
    assert_eq!(
        (i.status.as_str(), i.account_name.as_deref()),
        (status::ACTIVE, Some("Ada Lovelace"))
    );
    assert_eq!(s.list(&i.id).await.unwrap(), vec!["first", "second"]);

    // The same callback again: the state was single use.
    let q = s.callback(&cb, None).await;
    assert_eq!(q["error"], "invalid_state");
    // A state nobody issued, or none at all.
    let forged = cb.replace("state=", "state=forged");
    assert_eq!(s.callback(&forged, None).await["error"], "invalid_state");
    let no_state = format!("{}/api/integrations/oauthy/callback?code=x", s.served.base);
    assert_eq!(s.callback(&no_state, None).await["error"], "invalid_state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_state_is_used_by_someone_else_or_late() {
    let s = setup(None).await;
    // Alice's state presented by Bob.
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    assert_eq!(
        s.callback(&cb, Some(&s.bob)).await["error"],
        "state_mismatch"
    );
    // Alice's personal state on an organization's callback.
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    let org_cb = cb.replace(
        "/api/integrations/oauthy/callback",
        "/api/organizations/acme/integrations/oauthy/callback",
    );
    assert_eq!(s.callback(&org_cb, None).await["error"], "state_mismatch");
    // The provider said no.
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    let denied = format!("{cb}&error=access_denied");
    assert_eq!(s.callback(&denied, None).await["error"], "access_denied");
    // An expired state.
    let db = s.served.state.db();
    let alice = db.user_by_email("alice@t.test").await.unwrap().unwrap();
    let raw = "expired-state-value";
    let hash = hex::encode(Sha256::digest(raw.as_bytes()));
    let verifier = s
        .served
        .state
        .keyring
        .seal(&format!("oauth-state:{hash}"), b"v")
        .unwrap();
    let old = OauthState {
        provider: "oauthy".into(),
        owner_kind: "user".into(),
        owner_id: alice.id.clone(),
        user_id: alice.id.clone(),
        verifier,
        config: Default::default(),
        storage_strategy: "FULL_CONTENT".into(),
        scopes: vec![],
        expires_at: now_ms() - 1,
    };
    db.insert_oauth_state(&hash, &old).await.unwrap();
    let late = format!(
        "{}/api/integrations/oauthy/callback?code=c&state={raw}",
        s.served.base
    );
    assert_eq!(s.callback(&late, None).await["error"], "expired_state");
    assert!(
        db.integration(&Owner::User(alice.id), "oauthy")
            .await
            .unwrap()
            .is_none(),
        "nothing was connected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_tokens_refresh_and_rotate() {
    let s = setup(None).await;
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    s.callback(&cb, None).await;
    let i = s.integration().await;
    let vault = &s.served.state.vault;

    // A 401 that a refresh fixes: the provider dropped the access token.
    s.fake.lock().unwrap().access.clear();
    assert_eq!(s.list(&i.id).await.unwrap(), vec!["first", "second"]);
    assert_eq!(s.fake.lock().unwrap().refresh_grants, 1);

    // Two refreshes at once: one grant, both callers get the newer token, and the stored
    // refresh token is the one the provider issued last.
    let (a, b) = tokio::join!(vault.refresh(&i.id), vault.refresh(&i.id));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.secret, b.secret);
    assert_eq!(s.fake.lock().unwrap().refresh_grants, 2);
    // A caller that asked before another's whole refresh ran, but gets its turn after it
    // (its reads were slow), joins that refresh instead of spending one more grant.
    let late = vault.refresh(&i.id);
    let first = vault.refresh(&i.id).await.unwrap();
    let late = late.await.unwrap();
    assert_eq!(first.secret, late.secret);
    assert_eq!(s.fake.lock().unwrap().refresh_grants, 3);
    let a = first;
    assert!(s.fake.lock().unwrap().access.contains(&a.secret));
    assert_eq!(s.list(&i.id).await.unwrap().len(), 2);
    let latest_refresh = s.fake.lock().unwrap().issued.last().cloned().unwrap();
    assert!(s.fake.lock().unwrap().refresh.contains(&latest_refresh));
    s.fake.lock().unwrap().access.clear();
    assert_eq!(
        s.list(&i.id).await.unwrap().len(),
        2,
        "the stored refresh token is the live one"
    );

    // A 401 that refresh cannot fix: every token revoked.
    {
        let mut f = s.fake.lock().unwrap();
        f.access.clear();
        f.refresh.clear();
    }
    let err = s.list(&i.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Plugin(tributary::model::PluginError::Unauthorized(_))
        ),
        "{err:?}"
    );
    let i = s.integration().await;
    assert_eq!(i.status, status::TOKEN_EXPIRED);
    assert!(i.last_error.unwrap().contains("invalid_grant"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_secrets_are_sealed_at_rest_and_keys_rotate() {
    let s = setup(None).await;
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    s.callback(&cb, None).await;
    let i = s.integration().await;
    s.fake.lock().unwrap().access.clear();
    s.list(&i.id).await.unwrap(); // one refresh, so rotated tokens are stored too

    let db_files = || {
        std::fs::read_dir(s.served.dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tributary.db"))
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect::<Vec<_>>()
    };
    let mut secrets: Vec<String> = s.fake.lock().unwrap().issued.clone();
    secrets.push(CLIENT_SECRET.into());
    assert!(secrets.len() >= 5);
    for bytes in db_files() {
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} is in the database in clear"
            );
        }
    }

    // Rotation: every secret re-sealed under the new key, still usable.
    let before = s
        .served
        .state
        .db()
        .credential(&i.id)
        .await
        .unwrap()
        .unwrap();
    let (new_key, n) = s.served.host_rotate.rotate_keys().await.unwrap();
    assert!(n >= 2, "credential and OAuth client re-sealed, got {n}");
    let after = s
        .served
        .state
        .db()
        .credential(&i.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.sealed.key_id, new_key);
    assert_ne!(before.sealed.key_id, after.sealed.key_id);
    assert_eq!(s.list(&i.id).await.unwrap().len(), 2);

    // A ciphertext copied onto another integration's row does not open there.
    let db = s.served.state.db();
    let bob = db.user_by_email("bob@t.test").await.unwrap().unwrap();
    let config = serde_json::Map::new();
    let other = db
        .connect_integration(Connect {
            owner: &Owner::User(bob.id.clone()),
            provider: "oauthy",
            user_id: &bob.id,
            config: &config,
            account: ("x", "x"),
        })
        .await
        .unwrap();
    db.put_credential(&other.id, &after, None).await.unwrap();
    let err = s.served.state.vault.current(&other.id).await.unwrap_err();
    assert!(
        matches!(err, tributary::model::PluginError::Transient(_)),
        "{err:?}"
    );
    assert!(
        !format!("{err:?}").contains("at-"),
        "errors never carry tokens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_tokens_refresh_before_they_expire() {
    let s = setup(None).await;
    s.fake.lock().unwrap().expires_in = 30; // inside the refresh margin
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    s.callback(&cb, None).await;
    let i = s.integration().await;
    assert_eq!(s.list(&i.id).await.unwrap().len(), 2);
    assert_eq!(
        s.fake.lock().unwrap().refresh_grants,
        1,
        "refreshed ahead of expiry, before any 401"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_postgres_rows_hold_no_secret_in_clear() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let s = setup(Some(url)).await;
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    s.callback(&cb, None).await;
    let db = s.served.state.db();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert!(tables.len() >= 10, "{tables:?}");
    let mut dump = String::new();
    for t in tables {
        let rows: Option<String> =
            sqlx::query_scalar(&format!("SELECT string_agg(t::text, ' ') FROM {t} t"))
                .fetch_one(db.pool())
                .await
                .unwrap();
        dump.push_str(&rows.unwrap_or_default());
    }
    assert!(dump.contains("Ada Lovelace"), "the dump reads real rows");
    let mut secrets = s.fake.lock().unwrap().issued.clone();
    secrets.push(CLIENT_SECRET.into());
    for secret in secrets {
        assert!(!dump.contains(&secret), "{secret} is stored in clear");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_sync_meets_a_401_that_refresh_fixes_and_stops_at_one_it_cannot() {
    use tributary::db::job_status;
    use tributary::sync::{EngineConfig, NoopSink, Outcome, SyncEngine};
    let s = setup(None).await;
    let cb = s
        .approved_callback(&s.alice, "/api/integrations/oauthy")
        .await;
    s.callback(&cb, None).await;
    let i = s.integration().await;
    let db = s.served.state.db();
    let engine = SyncEngine::new(
        s.served.state.runtime.clone(),
        Arc::new(NoopSink),
        EngineConfig::default(),
    );
    let sync = async || {
        db.request_sync(&i.id, "oauthy", "full", "manual")
            .await
            .unwrap();
        engine.run_once().await.unwrap().unwrap().1
    };
    assert_eq!(sync().await, Outcome::Completed);
    assert_eq!(db.synced_all(&i.id).await.unwrap().len(), 2);

    // The provider dropped the access token: one refresh, the sync completes.
    s.fake.lock().unwrap().access.clear();
    assert_eq!(sync().await, Outcome::Completed);
    assert_eq!(s.fake.lock().unwrap().refresh_grants, 1);
    let row = db.integration_by_id(&i.id).await.unwrap().unwrap();
    assert_eq!(row.status, status::ACTIVE);

    // Every token revoked: the job fails for good, the integration needs reconnecting,
    // nothing is deleted, and neither the scheduler nor a queued job runs it again.
    {
        let mut f = s.fake.lock().unwrap();
        f.access.clear();
        f.refresh.clear();
    }
    assert_eq!(sync().await, Outcome::Failed);
    let row = db.integration_by_id(&i.id).await.unwrap().unwrap();
    assert_eq!(row.status, status::TOKEN_EXPIRED);
    let job = &db.sync_jobs(Some(&i.id), 1).await.unwrap()[0];
    assert_eq!(job.status, job_status::FAILED);
    assert!(
        job.error_message
            .as_deref()
            .unwrap()
            .contains("unauthorized")
    );
    assert_eq!(db.synced_all(&i.id).await.unwrap().len(), 2);
    assert_eq!(tributary::sync::schedule_due(db).await.unwrap(), 0);
    assert_eq!(sync().await, Outcome::Cancelled);
}
