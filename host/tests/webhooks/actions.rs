//! Declared actions (WIT 0.2.0): listed with their JSON Schema, run only on an explicit
//! API call by a user who may change the integration, with the input validated before
//! the plugin sees it; never during a sync, never on another user's integration.

use std::sync::Arc;

use serde_json::{Value, json};
use tributary::sync::{EngineConfig, NoopSink, Outcome, SyncEngine};

use super::common::*;
use super::*;

async fn call(base: &str, key: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let req = match body {
        Some(b) => client.post(format!("{base}{path}")).json(&b),
        None => client.get(format!("{base}{path}")),
    };
    let resp = req.bearer_auth(key).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_an_action_runs_only_on_an_explicit_valid_call() {
    let (s, api) = paged_host(&["paged", "legacy_v1"], |_| {}).await;
    let db = s.state.db();
    let (_, admin) = user_with_key(db, "admin@t.test", true).await;
    let (user, key) = user_with_key(db, "doer@t.test", false).await;
    let row = owned_integration(db, &user, "paged").await;
    let (_, other) = user_with_key(db, "other@t.test", false).await;

    // The catalogue shows each plugin's WIT version and its actions with their schema.
    let (code, plugins) = call(&s.base, &admin, "/api/admin/plugins", None).await;
    assert_eq!(code, 200);
    let plugin = |id: &str| {
        plugins["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    let paged = plugin("paged");
    assert_eq!(paged["wit_version"], "0.2.0");
    assert_eq!(paged["actions"][0]["name"], "create_item");
    assert_eq!(
        paged["actions"][0]["input_schema"]["required"],
        json!(["title", "body"])
    );
    assert_eq!(plugin("legacy")["wit_version"], "0.1.0");
    assert_eq!(plugin("legacy")["actions"], json!([]));

    let path = "/api/integrations/paged/actions/create_item";
    let valid = json!({"title": "Minutes", "body": "We agreed to ship on Friday."});
    // Off until an admin enables it.
    let (code, body) = call(&s.base, &key, path, Some(valid.clone())).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("action_disabled")),
        "{body}"
    );
    let on = reqwest::Client::new()
        .put(format!("{}/api/admin/integrations/registry/paged", s.base))
        .bearer_auth(&admin)
        .json(&json!({"enabled_actions": ["create_item"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(on.status(), 200);
    // Input that does not match the schema never reaches the plugin.
    for bad in [
        json!({"title": "t"}),
        json!({"title": "", "body": "b"}),
        json!({"title": "t", "body": "b", "extra": 1}),
        json!("not an object"),
    ] {
        let (code, body) = call(&s.base, &key, path, Some(bad.clone())).await;
        assert_eq!(
            (code, body["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{bad}: {body}"
        );
    }
    assert!(api.lock().unwrap().created.is_empty());
    // An action the plugin does not declare, a provider not connected, another user.
    let (code, _) = call(
        &s.base,
        &key,
        "/api/integrations/paged/actions/drop_all",
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 404);
    let (code, _) = call(
        &s.base,
        &key,
        "/api/integrations/legacy/actions/create_item",
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 404);
    let (code, _) = call(&s.base, &other, path, Some(valid.clone())).await;
    assert_eq!(code, 404);
    assert!(api.lock().unwrap().created.is_empty());

    // A valid call runs once, with the plugin's JSON answer.
    let (code, body) = call(&s.base, &key, path, Some(valid.clone())).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (&body["action"], &body["result"]),
        (&json!("create_item"), &json!({"id": "new-1"}))
    );
    // Recorded in the job log, born finished: no worker claims it.
    let job = db
        .sync_job(body["job_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            job.mode.as_str(),
            job.status.as_str(),
            job.external_id.as_deref()
        ),
        ("action", "COMPLETED", Some("create_item"))
    );
    assert_eq!(api.lock().unwrap().created, [valid]);

    // A sync reads (it even finds the new item) and writes nothing.
    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        Arc::new(NoopSink),
        EngineConfig::default(),
    );
    db.request_sync(&row.id, "paged", "full", "manual")
        .await
        .unwrap();
    while let Some((_, o)) = engine.run_once().await.unwrap() {
        assert_eq!(o, Outcome::Completed);
    }
    assert_eq!(held(db, &row.id).await, ["new-1"]);
    assert_eq!(api.lock().unwrap().created.len(), 1);
}
