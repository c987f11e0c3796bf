//! The REST API and the `tributary` binary: first run, `/health`, the admin plugin
//! endpoints (behind the admin token), and the `plugins` CLI.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;
use tributary::server::{Host, HostConfig};

const TOKEN: &str = "test-admin-token";

async fn start() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread reads it; every test here uses the same value.
    unsafe { std::env::set_var("TRIBUTARY_ADMIN_TOKEN", TOKEN) };
    let host = Host::open(&HostConfig::new(dir.path())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(host.serve(listener, std::future::pending()));
    (dir, base)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn json(resp: reqwest::Response) -> Value {
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_an_admin_installs_lists_and_removes_plugins() {
    let (dir, base) = start().await;
    let health = json(client().get(format!("{base}/health")).send().await.unwrap()).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["plugins"], 1,
        "the bundled substack plugin is installed on first start"
    );
    assert!(dir.path().join("plugins/substack.wasm").exists());

    let list = json(
        client()
            .get(format!("{base}/api/admin/plugins"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["plugins"][0]["id"], "substack");
    assert_eq!(list["plugins"][0]["allowed_hosts"][0], "*.substack.com");

    let wasm = std::fs::read(component("misbehave")).unwrap();
    let resp = client()
        .post(format!("{base}/api/admin/plugins"))
        .bearer_auth(TOKEN)
        .body(wasm)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(json(resp).await["id"], "misbehave");
    assert!(dir.path().join("plugins/misbehave.wasm").exists());
    let shown = client()
        .get(format!("{base}/api/admin/plugins/misbehave"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(json(shown).await["permissions"][0], "raw-token");

    let resp = client()
        .delete(format!("{base}/api/admin/plugins/misbehave"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(!dir.path().join("plugins/misbehave.wasm").exists());
    let resp = client()
        .delete(format!("{base}/api/admin/plugins/misbehave"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(json(resp).await["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_uploads_are_not_valid_plugins() {
    let (dir, base) = start().await;
    let post = |body: Vec<u8>| {
        client()
            .post(format!("{base}/api/admin/plugins"))
            .bearer_auth(TOKEN)
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
            .all(|f| f == "substack.wasm" || f.to_string_lossy().starts_with(".bundled")),
        "{files:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_admin_endpoints_are_called_without_the_token() {
    let (_dir, base) = start().await;
    for token in [None, Some("wrong"), Some("")] {
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
    let resp = client().get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(json(resp).await["error"]["code"], "not_found");
    let resp = client()
        .put(format!("{base}/api/admin/providers/substack/settings"))
        .bearer_auth(TOKEN)
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
        .env_remove("TRIBUTARY_ADMIN_TOKEN")
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
            .any(|l| l.contains("plugins dir") && l.contains("1 loaded")),
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
        let mode = std::fs::metadata(data.join("admin-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_restart_reuses_compiled_plugins() {
    let dir = tempfile::tempdir().unwrap();
    unsafe { std::env::set_var("TRIBUTARY_ADMIN_TOKEN", TOKEN) };
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
