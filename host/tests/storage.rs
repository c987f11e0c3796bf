//! Plugin loading records and the plugin kv store, on SQLite and on PostgreSQL (a fresh
//! database per run).

mod common;

use common::*;
use tributary::runtime::{Integration, Limits};

async fn kv_and_loading(db_url: Option<String>) {
    let t = host(db_url, &["misbehave", "hello_v1"], Limits::default(), false).await;
    t.put("future_wit", "future.wasm");
    t.runtime.scan().await.unwrap();
    let db = &t.runtime.services().db;

    let rows = db.plugin_files().await.unwrap();
    let status: Vec<(String, String, Option<String>)> = rows
        .iter()
        .map(|r| (r.file_name.clone(), r.status.clone(), r.provider_id.clone()))
        .collect();
    assert_eq!(
        status,
        vec![
            ("future.wasm".into(), "refused".into(), None),
            (
                "hello_v1.wasm".into(),
                "active".into(),
                Some("hello".into())
            ),
            (
                "misbehave.wasm".into(),
                "active".into(),
                Some("misbehave".into())
            ),
        ]
    );
    assert!(rows[0].error.as_deref().unwrap().contains("9.0.0"));

    // Through the plugin.
    let cfg = |mode: &str, arg: &str| {
        vec![
            ("mode".to_string(), mode.to_string()),
            ("arg".to_string(), arg.to_string()),
        ]
    };
    let mut s = t
        .runtime
        .session(
            "misbehave",
            Some(Integration::new("int-1", cfg("kv-set", "v1"))),
        )
        .await
        .unwrap();
    s.list(&full(1)).await.unwrap();
    let mut s = t
        .runtime
        .session(
            "misbehave",
            Some(Integration::new("int-1", cfg("kv-get", ""))),
        )
        .await
        .unwrap();
    assert_eq!(
        s.list(&full(1)).await.unwrap().resources[0].title,
        "v1|shared-key"
    );

    // Directly: prefix ranges are byte ranges, scoped to the integration.
    for k in ["a/1", "a/2", "a0", "b", "a/\u{ff}", "é"] {
        db.kv_set("int-2", k, k.as_bytes()).await.unwrap();
    }
    db.kv_set("int-3", "a/9", b"other").await.unwrap();
    assert_eq!(
        db.kv_list("int-2", "a/", 100).await.unwrap(),
        vec!["a/1", "a/2", "a/\u{ff}"]
    );
    assert_eq!(db.kv_list("int-2", "", 100).await.unwrap().len(), 6);
    assert_eq!(
        db.kv_list("int-2", "", 2).await.unwrap(),
        vec!["a/1", "a/2"]
    );
    db.kv_set("int-2", "b", b"new").await.unwrap();
    assert_eq!(
        db.kv_get("int-2", "b").await.unwrap().as_deref(),
        Some(&b"new"[..])
    );
    db.kv_delete("int-2", "b").await.unwrap();
    assert_eq!(db.kv_get("int-2", "b").await.unwrap(), None);
    assert_eq!(db.kv_count("int-2").await.unwrap(), 5);
    assert_eq!(db.kv_purge("int-2").await.unwrap(), 5);
    assert_eq!(
        db.kv_get("int-3", "a/9").await.unwrap().as_deref(),
        Some(&b"other"[..])
    );

    // Removing a plugin forgets its file but keeps its data.
    assert!(t.runtime.remove("misbehave").await.unwrap());
    assert!(
        db.plugin_files()
            .await
            .unwrap()
            .iter()
            .all(|r| r.file_name != "misbehave.wasm")
    );
    assert_eq!(
        db.kv_get("int-1", "shared-key").await.unwrap().as_deref(),
        Some(&b"v1"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_storing_on_sqlite() {
    kv_and_loading(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_storing_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    kv_and_loading(Some(url)).await;
}
