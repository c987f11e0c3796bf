//! Subscriptions against a fake hooks API: subscribe on connect with a callback under the
//! public URL and a per-subscription secret (sealed at rest, handed back to the plugin to
//! verify calls, kept across renewals), renew before expiry (the replaced registration
//! removed), a failure shown on the integration and retried, unsubscribe on disconnect.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tributary::db::now_ms;
use tributary::webhooks::Subscriptions;

use super::common::*;

#[derive(Default)]
struct Hooks {
    live: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    made: usize,
    removed: Vec<String>,
    fail: bool,
}

type Shared = Arc<Mutex<Hooks>>;

async fn create(State(h): State<Shared>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let mut h = h.lock().unwrap();
    if h.fail {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "try later"})),
        );
    }
    h.made += 1;
    let id = format!("h-{}", h.made);
    h.live
        .insert(id.clone(), body["url"].as_str().unwrap().to_string());
    h.secrets
        .insert(id.clone(), body["secret"].as_str().unwrap().to_string());
    let expires = now_ms() + 3_600_000;
    (
        StatusCode::CREATED,
        Json(json!({"id": id, "expires": expires})),
    )
}

async fn remove(State(h): State<Shared>, Path(id): Path<String>) -> StatusCode {
    let mut h = h.lock().unwrap();
    h.removed.push(id.clone());
    match h.live.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_subscriptions_follow_connect_expiry_failure_and_disconnect() {
    let s = serve_host(None, &["paged"], false).await;
    let hooks: Shared = Arc::default();
    let addr = serve(
        Router::new()
            .route("/hooks", post(create))
            .route("/hooks/{id}", delete(remove))
            .with_state(hooks.clone()),
    )
    .await;
    let services = s.state.runtime.services();
    services
        .set_settings("paged", base_override("https://api.paged.test", addr))
        .await
        .unwrap();
    services.set_secret("paged", "webhook_secret", "hook-secret");
    let db = s.state.db();
    let (_, key) = user_with_key(db, "subs@t.test", false).await;

    // Connect: the registration is made with a callback under the public URL.
    let (code, body) = call(
        &s.base,
        reqwest::Method::POST,
        "/api/integrations/paged/connect",
        &key,
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let callback = format!("{}/api/webhooks/integrations/paged/{id}", s.base);
    assert_eq!(hooks.lock().unwrap().live.get("h-1"), Some(&callback));
    let (_, details) = call(
        &s.base,
        reqwest::Method::GET,
        "/api/integrations/paged",
        &key,
        None,
    )
    .await;
    let sub = &details["subscription"];
    assert_eq!(
        (sub["state"].as_str(), sub["subscription_id"].as_str()),
        (Some("ACTIVE"), Some("h-1")),
        "{details}"
    );
    assert!(sub["expires_at"].as_i64().unwrap() > now_ms());
    let renew = sub["renew_at"].as_i64().unwrap();
    assert!(renew < sub["expires_at"].as_i64().unwrap() && renew > now_ms() + 40 * 60_000);

    // The registration got a random secret; at rest it is sealed, never in clear.
    let secret = hooks.lock().unwrap().secrets["h-1"].clone();
    assert!(
        secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()),
        "{secret}"
    );
    let row = db.subscription(&id).await.unwrap().unwrap();
    let sealed = row.secret.as_ref().expect("the secret is stored");
    assert!(
        !sealed
            .bytes
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
    );
    assert!(!details.to_string().contains(&secret));

    // The provider calls the callback signed with that secret: the plugin gets it back,
    // verifies and the delivery is recorded; a call signed with another secret is not.
    let signed = |key: &str, body: &Value| {
        let bytes = serde_json::to_vec(body).unwrap();
        let sig = hex::encode(tributary_sdk::signature::hmac_sha256(
            key.as_bytes(),
            &bytes,
        ));
        (bytes, format!("sha256={sig}"))
    };
    let deliver = async |(bytes, sig): (Vec<u8>, String)| {
        let resp = reqwest::Client::new()
            .post(&callback)
            .header("x-hub-signature-256", sig)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap())
    };
    let first = json!({"changed": ["a"], "event_id": "Ev-1"});
    let (code, answer) = deliver(signed(&secret, &first)).await;
    assert_eq!(code, 200, "{answer}");
    assert!(answer["delivery"].is_string(), "{answer}");
    let (code, _) = deliver(signed("not-the-secret", &json!({"changed": ["b"]}))).await;
    assert_eq!(code, 401);
    // The delivery id the plugin read from the body makes a redelivery a duplicate.
    let (code, answer) = deliver(signed(&secret, &first)).await;
    assert_eq!(
        (code, answer["duplicate"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );

    // Nothing is due yet; once due, a new registration replaces the old one.
    let subs = Subscriptions::new(s.state.runtime.clone(), &s.base, s.state.keyring.clone());
    assert_eq!(subs.renew_due().await.unwrap(), 0);
    let make_due = async || {
        let mut row = db.subscription(&id).await.unwrap().unwrap();
        row.renew_at = Some(now_ms() - 1);
        db.save_subscription(&row).await.unwrap();
    };
    make_due().await;
    assert_eq!(subs.renew_due().await.unwrap(), 1);
    {
        let h = hooks.lock().unwrap();
        assert_eq!(h.live.keys().collect::<Vec<_>>(), ["h-2"]);
        assert_eq!(h.removed, ["h-1"]);
        // Renewals keep the secret: calls signed during the overlap still verify.
        assert_eq!(h.secrets["h-2"], secret);
    }
    assert_eq!(
        db.subscription(&id)
            .await
            .unwrap()
            .unwrap()
            .subscription_id
            .as_deref(),
        Some("h-2")
    );

    // The provider refuses a renewal: shown on the integration, the old one kept, retried.
    hooks.lock().unwrap().fail = true;
    make_due().await;
    subs.renew_due().await.unwrap();
    let (_, details) = call(
        &s.base,
        reqwest::Method::GET,
        "/api/integrations/paged",
        &key,
        None,
    )
    .await;
    let sub = &details["subscription"];
    assert_eq!(sub["state"], "FAILED", "{details}");
    assert_eq!(sub["subscription_id"], "h-2");
    assert_eq!(sub["failures"], 1);
    assert!(
        sub["last_error"].as_str().unwrap().contains("503"),
        "{details}"
    );
    let retry = sub["renew_at"].as_i64().unwrap() - now_ms();
    assert!(
        (20_000..=31_000).contains(&retry),
        "retried in about 30 s, not {retry} ms"
    );
    hooks.lock().unwrap().fail = false;
    make_due().await;
    subs.renew_due().await.unwrap();
    let row = db.subscription(&id).await.unwrap().unwrap();
    assert_eq!(
        (
            row.state.as_str(),
            row.subscription_id.as_deref(),
            row.failures
        ),
        ("ACTIVE", Some("h-3"), 0)
    );

    // Disconnect removes the registration at the provider and the record.
    let (code, _) = call(
        &s.base,
        reqwest::Method::DELETE,
        "/api/integrations/paged",
        &key,
        None,
    )
    .await;
    assert_eq!(code, 204);
    assert!(hooks.lock().unwrap().live.is_empty());
    assert!(db.subscription(&id).await.unwrap().is_none());
}
