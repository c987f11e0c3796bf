//! Hostile plugins: each misbehaviour becomes a typed error for that call, while the host
//! keeps answering `/health` and a well-behaved plugin keeps working alongside.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Redirect;
use axum::routing::get;
use common::*;
use tributary::api::app;
use tributary::credentials::{Credential, Kind};
use tributary::model::PluginError;
use tributary::runtime::{CallError, Integration, Limits};

fn limits() -> Limits {
    Limits {
        call_timeout: Duration::from_millis(800),
        memory_bytes: 32 << 20,
        ..Limits::default()
    }
}

fn integration(id: &str, mode: &str, arg: &str) -> Integration {
    Integration::new(
        id,
        vec![("mode".into(), mode.into()), ("arg".into(), arg.into())],
    )
}

async fn run(t: &TestHost, id: &str, mode: &str, arg: &str) -> Result<String, CallError> {
    let mut s = t
        .runtime
        .session("misbehave", Some(integration(id, mode, arg)))
        .await?;
    let page = s.list(&full(10)).await?;
    Ok(page.resources[0].title.clone())
}

/// The host still serves `/health` and runs `hello` correctly.
async fn assert_host_fine(t: &TestHost, addr: std::net::SocketAddr) {
    let resp = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut s = t.runtime.session("hello", None).await.unwrap();
    assert_eq!(s.list(&full(10)).await.unwrap().resources[0].title, "1.0.0");
}

async fn setup() -> (TestHost, std::net::SocketAddr) {
    let t = host(None, &["misbehave", "hello_v1"], limits(), false).await;
    assert!(
        t.runtime.get("misbehave").is_some() && t.runtime.get("hello").is_some(),
        "{:?}",
        t.runtime.files()
    );
    let addr = serve(app(t.state())).await;
    (t, addr)
}

/// A fake API that counts hits and redirects where told.
async fn fake_api(hits: Arc<AtomicUsize>, elsewhere: String) -> std::net::SocketAddr {
    let h = hits.clone();
    let router = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/hop", get(|| async { Redirect::temporary("/ok") }))
        .route(
            "/away",
            get(move || async move { Redirect::temporary(&elsewhere) }),
        )
        .route(
            "/key",
            get(|headers: HeaderMap| async move {
                headers
                    .get("x-api-key")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default()
            }),
        )
        .fallback(move || {
            h.fetch_add(1, Ordering::SeqCst);
            async { "stolen" }
        });
    serve(router).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_loops_forever() {
    let (t, addr) = setup().await;
    let rt = t.runtime.clone();
    let looping = tokio::spawn(async move {
        let mut s = rt
            .session("misbehave", Some(integration("i1", "loop", "")))
            .await
            .unwrap();
        s.list(&full(10)).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!looping.is_finished(), "the loop should still be running");
    assert_host_fine(&t, addr).await;
    let err = looping.await.unwrap().unwrap_err();
    assert!(matches!(err, CallError::Timeout { .. }), "{err:?}");
    assert_eq!(err.code(), "plugin_timeout");
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_allocates_without_end() {
    let (t, addr) = setup().await;
    let err = run(&t, "i1", "alloc", "").await.unwrap_err();
    assert!(
        matches!(err, CallError::MemoryLimit { limit, .. } if limit == 32 << 20),
        "{err:?}"
    );
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_panics_and_its_instance_is_not_reused() {
    let (t, addr) = setup().await;
    let mut s = t
        .runtime
        .session("misbehave", Some(integration("i1", "panic", "")))
        .await
        .unwrap();
    let err = s.list(&full(10)).await.unwrap_err();
    match &err {
        CallError::Trap { message, .. } => {
            assert!(message.contains("panicked on purpose"), "{message}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    let again = s.fetch("x").await.unwrap_err();
    assert!(again.to_string().contains("unusable"), "{again}");
    // A fresh session of the same plugin works.
    let mut fresh = t
        .runtime
        .session("misbehave", Some(integration("i1", "panic", "")))
        .await
        .unwrap();
    assert_eq!(fresh.fetch("x").await.unwrap().title, "ok");
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_calls_a_host_outside_its_manifest() {
    let (t, addr) = setup().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let api = fake_api(hits.clone(), "/ok".into()).await;
    let err = run(&t, "i1", "http", &format!("http://{api}/steal"))
        .await
        .unwrap_err();
    match &err {
        CallError::Plugin(PluginError::Forbidden(m)) => assert!(m.contains("127.0.0.1"), "{m}"),
        other => panic!("expected forbidden, got {other:?}"),
    }
    let err = run(&t, "i1", "http", "https://evil.example.com/")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::Forbidden(_))),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no request may leave");
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_redirect_leads_off_the_allowed_hosts() {
    let (t, addr) = setup().await;
    let stolen = Arc::new(AtomicUsize::new(0));
    let elsewhere = fake_api(stolen.clone(), "/ok".into()).await;
    let api = fake_api(
        Arc::new(AtomicUsize::new(0)),
        format!("http://{elsewhere}/steal"),
    )
    .await;
    let settings = base_override("http://api.misbehave.test", api);
    t.runtime
        .services()
        .set_settings("misbehave", settings)
        .await
        .unwrap();

    // A redirect within the allowed host is followed (and re-checked).
    assert_eq!(
        run(&t, "i1", "http", "http://api.misbehave.test/hop")
            .await
            .unwrap(),
        "200 fine"
    );
    // A redirect off it is refused before any request reaches the other host.
    let err = run(&t, "i1", "http", "http://api.misbehave.test/away")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::Forbidden(_))),
        "{err:?}"
    );
    assert_eq!(stolen.load(Ordering::SeqCst), 0);
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_host_injects_credentials_the_plugin_never_sees() {
    let (t, _addr) = setup().await;
    let api = fake_api(Arc::new(AtomicUsize::new(0)), "/ok".into()).await;
    let mut settings = base_override("http://api.misbehave.test", api);
    t.runtime
        .services()
        .set_settings("misbehave", settings.clone())
        .await
        .unwrap();
    let key = Credential {
        kind: Kind::ApiKey,
        secret: "k-123".into(),
        username: None,
        scopes: vec![],
        expires_at: None,
    };
    t.credentials.set("i1", key);

    assert_eq!(
        run(&t, "i1", "http-auth", "http://api.misbehave.test/key")
            .await
            .unwrap(),
        "k-123"
    );
    // Integration without credentials: typed unauthorized, nothing sent.
    let err = run(&t, "i2", "http-auth", "http://api.misbehave.test/key")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::Unauthorized(_))),
        "{err:?}"
    );
    // The raw token needs the manifest permission *and* an admin's approval.
    let err = run(&t, "i1", "raw-token", "").await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::Forbidden(m)) if m.contains("admin")),
        "{err:?}"
    );
    settings.approved_permissions.insert("raw-token".into());
    t.runtime
        .services()
        .set_settings("misbehave", settings)
        .await
        .unwrap();
    assert_eq!(run(&t, "i1", "raw-token", "").await.unwrap(), "k-123");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_reads_another_integrations_kv() {
    let (t, addr) = setup().await;
    assert_eq!(
        run(&t, "team-a", "kv-set", "secret-of-a").await.unwrap(),
        "stored"
    );
    assert_eq!(
        run(&t, "team-a", "kv-get", "").await.unwrap(),
        "secret-of-a|shared-key"
    );
    assert_eq!(
        run(&t, "team-b", "kv-get", "").await.unwrap(),
        "<none>|",
        "b must not see a's keys"
    );
    assert_eq!(
        run(&t, "team-a-suffix", "kv-get", "").await.unwrap(),
        "<none>|",
        "ids are exact, not prefixes"
    );
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_returns_malformed_data() {
    let (t, addr) = setup().await;
    for mode in ["malformed"] {
        let err = run(&t, "i1", mode, "").await.unwrap_err();
        assert!(
            matches!(err, CallError::Malformed { .. }),
            "{mode}: {err:?}"
        );
        assert_eq!(err.code(), "plugin_malformed_result");
    }
    assert_eq!(run(&t, "i1", "log-flood", "").await.unwrap(), "logged");
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_opens_a_socket_itself() {
    let (t, addr) = setup().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let api = fake_api(hits.clone(), "/ok".into()).await;
    let err = run(&t, "i1", "sockets", &api.to_string())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::Other(m)) if m.contains("socket refused")),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_component_targets_another_wit_version() {
    let (t, addr) = setup().await;
    t.put("future_wit", "future.wasm");
    let report = t.runtime.scan().await.unwrap();
    let (file, reason) = &report.refused[0];
    assert_eq!(file, "future.wasm");
    assert!(
        reason.contains("tributary:provider@9.0.0")
            && reason.contains("tributary:provider@0.1.0")
            && reason.contains("tributary:provider@0.2.0"),
        "{reason}"
    );
    let row = t
        .runtime
        .files()
        .into_iter()
        .find(|f| f.file_name == "future.wasm")
        .unwrap();
    assert_eq!(row.status, "refused");
    assert_host_fine(&t, addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_plugin_asks_for_another_providers_secret() {
    let (t, _addr) = setup().await;
    let services = t.runtime.services();
    services.set_secret("misbehave", "signing_secret", "mine");
    services.set_secret("hello", "other_secret", "not-yours");
    assert_eq!(
        run(&t, "i1", "secret", "signing_secret").await.unwrap(),
        "mine"
    );
    assert_eq!(
        run(&t, "i1", "secret", "other_secret").await.unwrap(),
        "<none>"
    );
    let err = run(&t, "i1", "secret", "").await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::InvalidInput(_))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_provider_is_held_to_its_declared_rate() {
    // misbehave declares 600 requests/minute: a burst of 10 (one second's worth), then
    // one every 100 ms.
    let t = host(None, &["misbehave"], Limits::default(), false).await;
    let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let router = Router::new().route(
        "/ok",
        get(move || {
            seen.lock().unwrap().push(std::time::Instant::now());
            async { "fine" }
        }),
    );
    let api = serve(router).await;
    let settings = base_override("http://api.misbehave.test", api);
    t.runtime
        .services()
        .set_settings("misbehave", settings)
        .await
        .unwrap();
    // Measured from before the first request: the limiter cannot let the 30th through
    // earlier than two seconds after its first grant, however slow the machine is.
    let started = std::time::Instant::now();
    for _ in 0..30 {
        run(&t, "i1", "http", "http://api.misbehave.test/ok")
            .await
            .unwrap();
    }
    let (n, span) = {
        let a = arrivals.lock().unwrap();
        (a.len(), a[a.len() - 1] - started)
    };
    assert_eq!(n, 30);
    // A lower bound only: requests 11 to 30 had to wait 100 ms each for the budget.
    assert!(
        span >= Duration::from_millis(1_900),
        "30 requests in {span:?}"
    );

    // With a call budget too short to wait for the next slot (half of 150 ms < 100 ms
    // spacing), the plugin gets a typed rate-limit error once the burst is spent.
    let quick = Limits {
        call_timeout: Duration::from_millis(150),
        ..limits()
    };
    let short = host(None, &["misbehave"], quick, false).await;
    let settings = t.runtime.services().settings("misbehave");
    short
        .runtime
        .services()
        .set_settings("misbehave", settings)
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..30 {
        outcomes.push(run(&short, "i1", "http", "http://api.misbehave.test/ok").await);
    }
    let limited = outcomes
        .iter()
        .filter(|o| matches!(o, Err(CallError::Plugin(PluginError::RateLimited(_)))))
        .count();
    assert!(limited >= 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o.is_ok() || matches!(o, Err(CallError::Plugin(PluginError::RateLimited(_)))))
    );
}
