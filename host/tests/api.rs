//! The REST API and the `tributary` binary: first run, `/health`, the admin plugin
//! endpoints (behind the admin token), and the `plugins` CLI.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;
use tributary::server::{Host, HostConfig};

/// A served host with an admin's API key.
async fn start() -> (tempfile::TempDir, String, String) {
    let served = serve_host(None, &[], false).await;
    let (_, key) = user_with_key(served.state.db(), "root@example.com", true).await;
    (served.dir, served.base, key)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// The first-party plugins the binary installs on first start.
const BUNDLED: &[&str] = &[
    "discord",
    "gcalendar",
    "gdrive",
    "github",
    "gitlab",
    "gmail",
    "slack",
    "substack",
];

async fn json(resp: reqwest::Response) -> Value {
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_an_admin_installs_lists_and_removes_plugins() {
    let (dir, base, admin) = start().await;
    let health = json(client().get(format!("{base}/health")).send().await.unwrap()).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["plugins"],
        BUNDLED.len(),
        "the bundled plugins are installed on first start"
    );
    for id in BUNDLED {
        assert!(dir.path().join(format!("plugins/{id}.wasm")).exists());
    }

    let list = json(
        client()
            .get(format!("{base}/api/admin/plugins"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let substack = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "substack")
        .unwrap();
    assert_eq!(substack["allowed_hosts"][0], "*.substack.com");

    let wasm = std::fs::read(component("misbehave")).unwrap();
    let resp = client()
        .post(format!("{base}/api/admin/plugins"))
        .bearer_auth(&admin)
        .body(wasm)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(json(resp).await["id"], "misbehave");
    assert!(dir.path().join("plugins/misbehave.wasm").exists());
    let shown = client()
        .get(format!("{base}/api/admin/plugins/misbehave"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(json(shown).await["permissions"][0], "raw-token");

    let resp = client()
        .delete(format!("{base}/api/admin/plugins/misbehave"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(!dir.path().join("plugins/misbehave.wasm").exists());
    let resp = client()
        .delete(format!("{base}/api/admin/plugins/misbehave"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(json(resp).await["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_uploads_are_not_valid_plugins() {
    let (dir, base, admin) = start().await;
    let post = |body: Vec<u8>| {
        client()
            .post(format!("{base}/api/admin/plugins"))
            .bearer_auth(&admin)
            .body(body)
            .send()
    };

    let resp = post(b"definitely not wasm".to_vec()).await.unwrap();
    assert_eq!(resp.status(), 422);
    assert_eq!(json(resp).await["error"]["code"], "plugin_invalid");

    let resp = post(std::fs::read(component("future_wit")).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body = json(resp).await;
    assert_eq!(body["error"]["code"], "plugin_wit_version");
    assert!(body["error"]["message"].as_str().unwrap().contains("9.0.0"));

    let resp = post(Vec::new()).await.unwrap();
    assert_eq!(resp.status(), 400);
    let files: Vec<_> = std::fs::read_dir(dir.path().join("plugins"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        files
            .iter()
            .all(|f| BUNDLED.iter().any(|id| *f == *format!("{id}.wasm"))
                || f.to_string_lossy().starts_with(".bundled")),
        "{files:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_admin_endpoints_are_called_without_the_token() {
    let (_dir, base, admin) = start().await;
    for token in [None, Some("wrong"), Some(""), Some("trb_0000")] {
        let mut req = client().get(format!("{base}/api/admin/plugins"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(json(resp).await["error"]["code"], "unauthorized");
    }
    let resp = client()
        .post(format!("{base}/api/admin/plugins"))
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let state_db = tributary::db::Db::connect(&tributary::db::Db::sqlite_url(
        &_dir.path().join("tributary.db"),
    ))
    .await
    .unwrap();
    let (_, plain) = user_with_key(&state_db, "plain@example.com", false).await;
    let resp = client()
        .get(format!("{base}/api/admin/plugins"))
        .bearer_auth(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(json(resp).await["error"]["code"], "forbidden");
    let resp = client().get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(json(resp).await["error"]["code"], "not_found");
    let resp = client()
        .put(format!("{base}/api/admin/providers/substack/settings"))
        .bearer_auth(&admin)
        .body(r#"{"base_urls": {"https://x.substack.com": "file:///etc/passwd"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(json(resp).await["error"]["code"], "bad_request");
}

fn tributary(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tributary {args:?} failed: {}{}",
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn works_when_managing_plugins_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    assert!(tributary(dir.path(), &["plugins", "list"]).contains("substack"));
    let path = component("hello_v1");
    let out = tributary(dir.path(), &["plugins", "install", path.to_str().unwrap()]);
    assert!(out.contains("installed hello 1.0.0"), "{out}");
    assert!(tributary(dir.path(), &["plugins", "list"]).contains("hello"));
    assert!(tributary(dir.path(), &["plugins", "remove", "hello"]).contains("removed hello"));
    assert!(!tributary(dir.path(), &["plugins", "list"]).contains("hello"));
}

#[test]
fn works_when_serving_from_an_empty_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env_remove("DATABASE_URL")
        .env_remove("TOKEN_ENCRYPTION_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split("http://")
        .nth(1)
        .expect("first line names the address")
        .to_string();
    let rest: Vec<String> = lines.by_ref().take(5).map(|l| l.unwrap()).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("plugins dir") && l.contains(&format!("{} loaded", BUNDLED.len()))),
        "{rest:?}"
    );
    let body = reqwest::blocking::get(format!("http://{url}/health"))
        .unwrap()
        .text()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    assert!(data.join("tributary.db").exists() && data.join("plugins/substack.wasm").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("keys.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_restart_reuses_compiled_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let config = HostConfig::new(dir.path());
    let first = Host::open(&config).await.unwrap();
    assert!(
        !first.runtime.get("substack").unwrap().from_cache,
        "a new data dir compiles"
    );
    drop(first);
    let second = Host::open(&config).await.unwrap();
    let p = second.runtime.get("substack").unwrap();
    assert!(
        p.from_cache,
        "a restart must load the compiled artifact, not recompile"
    );
    let mut s = second.runtime.session("substack", None).await.unwrap();
    assert_eq!(s.manifest().await.unwrap().id, "substack");
}

#[test]
fn works_when_setting_up_accounts_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = tributary(
        dir.path(),
        &["users", "create", "--email", "ada@example.com", "--admin"],
    );
    assert!(out.contains("platform admin"), "{out}");
    tributary(
        dir.path(),
        &["users", "create", "--email", "bob@example.com"],
    );
    tributary(
        dir.path(),
        &[
            "orgs",
            "create",
            "--slug",
            "acme",
            "--owner",
            "ada@example.com",
        ],
    );
    let out = tributary(
        dir.path(),
        &[
            "orgs",
            "add-member",
            "--slug",
            "acme",
            "--email",
            "bob@example.com",
            "--role",
            "admin",
        ],
    );
    assert!(
        out.contains("bob@example.com is now admin of acme"),
        "{out}"
    );
    let out = tributary(
        dir.path(),
        &["keys", "create", "--email", "bob@example.com"],
    );
    let key = out.lines().last().unwrap().trim().to_string();
    assert!(key.starts_with("trb_") && key.len() == 68, "{out}");
    // Stored hashed: the key itself is nowhere in the database files.
    for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if f.file_name().to_string_lossy().starts_with("tributary.db") {
            let bytes = std::fs::read(f.path()).unwrap();
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "{:?} holds the key",
                f.path()
            );
        }
    }
    // Account commands touch only the database: no plugin was installed or compiled.
    assert!(
        !dir.path().join("plugins").exists(),
        "account commands must not load plugins"
    );
    let out = tributary(dir.path(), &["keys", "rotate"]);
    assert!(out.contains("rotated to key"), "{out}");
    let ring: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("keys.json")).unwrap())
            .unwrap();
    assert_eq!(
        ring["keys"].as_object().unwrap().len(),
        2,
        "the old key stays readable"
    );
    let failed = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "orgs",
            "add-member",
            "--slug",
            "acme",
            "--email",
            "nobody@example.com",
        ])
        .output()
        .unwrap();
    assert!(!failed.status.success());
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("no user with email nobody@example.com")
    );
}
