//! Full-sync throughput (run with `cargo bench -p tributary --bench sync`): 10,000 small
//! documents listed 100 to a page with inline content by a fake API on loopback, synced
//! into SQLite by the real engine, once through the `paged` wasm plugin and once through
//! the same provider logic (`tests/components/paged/src/api.rs`) compiled natively into
//! this binary and called directly. Prints resources/s of both and their ratio.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../tests/components/paged/src/api.rs"]
mod paged_api;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tributary::model as api;
use tributary::runtime::{CallError, Limits};
use tributary::services::ProviderSettings;
use tributary::sync::{EngineConfig, NoopSink, Outcome, Source, SyncEngine};

const N: usize = 10_000;
const RUNS: usize = 5;

async fn list(Query(q): Query<BTreeMap<String, String>>) -> Json<Value> {
    let start: usize = q.get("cursor").map(|c| c.parse().unwrap()).unwrap_or(0);
    let limit: usize = q["limit"].parse().unwrap();
    let end = (start + limit).min(N);
    let items: Vec<_> = (start..end)
        .map(|i| {
            json!({"id": format!("doc-{i:05}"), "version": "1", "updated": 1_700_000_000_000i64 + i as i64,
                   "title": format!("Document {i}"),
                   "body": format!("Document {i} is a short note about topic {} with a few words of text.", i % 97)})
        })
        .collect();
    Json(json!({"items": items, "next": (end < N).then(|| end.to_string())}))
}

/// The provider logic compiled natively, called directly (its HTTP through reqwest).
struct Native {
    config: tributary_sdk::Config,
}

fn to_host(c: tributary_sdk::Content) -> api::Content {
    api::Content {
        id: c.id,
        kind: c.kind,
        title: c.title,
        body: match c.body {
            tributary_sdk::Body::Text(t) => api::Body::Text(t),
            tributary_sdk::Body::Bytes(b) => api::Body::Bytes(b),
            tributary_sdk::Body::Download(d) => api::Body::Download(api::Download {
                url: d.url,
                headers: d.headers,
                authenticate: d.authenticate,
                size: d.size,
            }),
        },
        mime_type: c.mime_type,
        url: c.url,
        author: c.author.map(|a| api::Author {
            id: a.id,
            name: a.name,
            email: a.email,
        }),
        created_at: c.created_at,
        updated_at: c.updated_at,
        metadata: c.metadata,
        content_hash: c.content_hash,
    }
}

fn native_error(e: tributary_sdk::Error) -> CallError {
    CallError::Plugin(tributary::model::PluginError::Other(format!("{e:?}")))
}

impl Source for Native {
    fn list<'a>(
        &'a mut self,
        req: &'a api::ListRequest,
    ) -> BoxFuture<'a, Result<api::Page, CallError>> {
        Box::pin(async move {
            let req = tributary_sdk::ListRequest {
                mode: match req.mode {
                    api::ListMode::Full => tributary_sdk::ListMode::Full,
                    api::ListMode::Incremental => tributary_sdk::ListMode::Incremental,
                },
                cursor: req.cursor.clone(),
                sync_token: req.sync_token.clone(),
                modified_after: req.modified_after,
                page_size: req.page_size,
            };
            let page = tokio::task::block_in_place(|| paged_api::list(&self.config, req))
                .map_err(native_error)?;
            Ok(api::Page {
                resources: page
                    .resources
                    .into_iter()
                    .map(|r| api::Resource {
                        id: r.id,
                        kind: r.kind,
                        title: r.title,
                        url: r.url,
                        modified_at: r.modified_at,
                        version: r.version,
                        parent_id: r.parent_id,
                        content: r.content.map(to_host),
                    })
                    .collect(),
                deleted: page.deleted,
                next_cursor: page.next_cursor,
                sync_token: page.sync_token,
            })
        })
    }

    fn fetch<'a>(&'a mut self, id: &'a str) -> BoxFuture<'a, Result<api::Content, CallError>> {
        Box::pin(async move {
            tokio::task::block_in_place(|| paged_api::fetch(&self.config, id))
                .map(to_host)
                .map_err(native_error)
        })
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let addr = common::serve(Router::new().route("/items", get(list))).await;
    let t = common::host(None, &["paged"], Limits::default(), true).await;
    let services = t.runtime.services();
    let mut settings = ProviderSettings::default();
    settings
        .base_urls
        .insert(paged_api::API.into(), format!("http://{addr}"));
    services.set_settings("paged", settings).await.unwrap();

    let client = reqwest::Client::new();
    let handle = tokio::runtime::Handle::current();
    tributary_sdk::native::set_http_handler(move |req| {
        let url = req.url.replace(paged_api::API, &format!("http://{addr}"));
        handle.block_on(async {
            let resp = client
                .get(url)
                .send()
                .await
                .map_err(|e| tributary_sdk::Error::Transient(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = resp
                .bytes()
                .await
                .map_err(|e| tributary_sdk::Error::Transient(e.to_string()))?;
            Ok((status, vec![], body.to_vec()))
        })
    });

    let engine = SyncEngine::new(
        t.runtime.clone(),
        Arc::new(NoopSink),
        EngineConfig {
            page_size: 100,
            ..EngineConfig::default()
        },
    );
    let db = &services.db;
    let (mut wasm, mut native) = (Vec::new(), Vec::new());
    // One warm-up of each, then alternate so neither path gets a warmer machine.
    for run in 0..=RUNS {
        for path in ["wasm", "native"] {
            let row =
                common::user_integration(db, &format!("{path}{run}@bench.test"), "paged").await;
            db.request_sync(&row.id, "paged", "full", "manual")
                .await
                .unwrap();
            let start = Instant::now();
            let (_, outcome) = if path == "wasm" {
                engine.run_once().await.unwrap().unwrap()
            } else {
                let mut source = Native {
                    config: tributary_sdk::Config::from(row.config_pairs()),
                };
                engine.run_once_with(&mut source).await.unwrap().unwrap()
            };
            let took = start.elapsed();
            assert_eq!(outcome, Outcome::Completed);
            assert_eq!(db.synced_all(&row.id).await.unwrap().len(), N);
            if run > 0 {
                if path == "wasm" {
                    &mut wasm
                } else {
                    &mut native
                }
                .push(took);
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (w, n) = (median(&mut wasm), median(&mut native));
    let rate = |d: Duration| N as f64 / d.as_secs_f64();
    println!(
        "full sync, {N} small docs, SQLite, wasm plugin     median {:>8.1} ms  {:>8.0} resources/s",
        w.as_secs_f64() * 1e3,
        rate(w)
    );
    println!(
        "full sync, {N} small docs, SQLite, native provider median {:>8.1} ms  {:>8.0} resources/s",
        n.as_secs_f64() * 1e3,
        rate(n)
    );
    println!(
        "wasm / native time ratio: {:.2}",
        w.as_secs_f64() / n.as_secs_f64()
    );
}
