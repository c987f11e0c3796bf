//! Ingestion and search end to end, on every vector store backend: a provider syncs a
//! corpus through the real plugin and engine into the index; the search API finds the
//! right document for each query, only among what the caller may see; changes replace old
//! text; unsupported types are skipped with a reason; METADATA_ONLY keeps no text
//! anywhere; a purge empties the index of an integration; `verify` finds and repairs
//! drift. Each runs on the embedded store, on a Qdrant server on loopback (the real gRPC
//! API over Qdrant's engine) and, when `QDRANT_TEST_URL` is set, on that server. The
//! server backend's own behaviour (migration, racing creators, outages, replicas) is in
//! `store` and `shared`.

#[path = "../common/mod.rs"]
mod common;

mod backends;
mod qdrant_conv;
mod qdrant_fake;
mod qdrant_rpcs;
mod shared;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use backends::{Backend, backends};
use common::*;
use serde_json::{Value, json};
use tributary::db::{Connect, Integration, Owner};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

/// A test that runs `$body` on every backend this run has.
macro_rules! on_every_backend {
    ($test:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            for b in backends().await {
                eprintln!("backend: {}", b.name());
                $body(&b).await;
            }
        }
    };
}

/// Items per collection: id → item JSON (title, body, version, optional mime and url).
type Corpus = Arc<Mutex<HashMap<String, BTreeMap<String, Value>>>>;

async fn list(
    State(corpus): State<Corpus>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    let c = corpus.lock().unwrap();
    let items: Vec<Value> = c
        .get(q.get("collection").map(String::as_str).unwrap_or(""))
        .map(|items| items.values().cloned().collect())
        .unwrap_or_default();
    Json(json!({"items": items, "next": null}))
}

fn item(id: &str, title: &str, body: &str, version: u32) -> Value {
    json!({"id": id, "title": title, "body": body, "version": version.to_string(), "updated": 1_700_000_000_000i64 + version as i64})
}

fn typed(id: &str, title: &str, body: &str, mime: &str, url: &str) -> Value {
    let mut v = item(id, title, body, 1);
    v["mime"] = json!(mime);
    v["url"] = json!(url);
    v
}

struct World {
    s: Served,
    /// The server collection, when the index is on a server.
    server: Option<tributary::index::ServerConfig>,
    corpus: Corpus,
    engine: SyncEngine,
    keys: HashMap<&'static str, String>,
    integrations: HashMap<&'static str, Integration>,
}

impl World {
    /// Users A (member of org O), B, and C (member of foreign org F); one integration
    /// per owner, each reading its own collection; the index on `backend`.
    async fn new(backend: &Backend) -> World {
        let index = backend.index();
        let server = index.server.clone();
        let s = serve_host_with(None, &["paged"], false, index).await;
        let corpus: Corpus = Arc::default();
        let addr = serve(
            Router::new()
                .route("/items", get(list))
                .with_state(corpus.clone()),
        )
        .await;
        let services = s.state.runtime.services();
        let settings = base_override("https://api.paged.test", addr);
        services.set_settings("paged", settings).await.unwrap();
        let db = &services.db;
        let mut keys = HashMap::new();
        let mut users = HashMap::new();
        for name in ["a", "b", "c"] {
            let (u, k) = user_with_key(db, &format!("{name}@t.test"), false).await;
            keys.insert(name, k);
            users.insert(name, u);
        }
        let o = db.create_org("o", &users["a"]).await.unwrap();
        let f = db.create_org("f", &users["c"]).await.unwrap();
        let mut integrations = HashMap::new();
        for (name, owner, by) in [
            ("a", Owner::User(users["a"].id.clone()), "a"),
            ("b", Owner::User(users["b"].id.clone()), "b"),
            ("o", Owner::Org(o.id.clone()), "a"),
            ("f", Owner::Org(f.id.clone()), "c"),
        ] {
            let mut config = serde_json::Map::new();
            config.insert("collection".into(), json!(name));
            let row = db
                .connect_integration(Connect {
                    owner: &owner,
                    provider: "paged",
                    user_id: &users[by].id,
                    config: &config,
                    account: (name, name),
                })
                .await
                .unwrap();
            integrations.insert(name, row);
        }
        let engine = SyncEngine::new(
            s.state.runtime.clone(),
            s.state.ingest.clone(),
            EngineConfig::default(),
        );
        World {
            s,
            server,
            corpus,
            engine,
            keys,
            integrations,
        }
    }

    /// Drop the test's collection from a server (a real one keeps what tests leave).
    async fn finish(self) {
        if let Some(server) = &self.server {
            backends::drop_collection(server).await;
        }
    }

    fn put(&self, collection: &str, v: Value) {
        let id = v["id"].as_str().unwrap().to_string();
        let mut c = self.corpus.lock().unwrap();
        c.entry(collection.into()).or_default().insert(id, v);
    }

    fn remove(&self, collection: &str, id: &str) {
        let mut c = self.corpus.lock().unwrap();
        c.get_mut(collection).unwrap().remove(id);
    }

    /// Queue a full sync of each named integration and run the queue dry.
    async fn sync(&self, names: &[&str]) {
        let db = &self.s.state.runtime.services().db;
        for n in names {
            db.request_sync(&self.integrations[n].id, "paged", "full", "manual")
                .await
                .unwrap();
        }
        while let Some((job, outcome)) = self.engine.run_once().await.unwrap() {
            assert_eq!(outcome, Outcome::Completed, "{job}");
        }
    }

    /// `GET /api/search` as `who`: (status, body).
    async fn search(&self, who: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .get(format!("{}/api/search", self.s.base))
            .bearer_auth(&self.keys[who])
            .query(query)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    /// External ids of the hits of `q` for `who`, best first.
    async fn ids(&self, who: &str, q: &str) -> Vec<String> {
        let (status, body) = self.search(who, &[("q", q)]).await;
        assert_eq!(status, 200, "{body}");
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["external_id"].as_str().unwrap().to_string())
            .collect()
    }
}

fn seed(w: &World) {
    w.put(
        "a",
        item(
            "a1",
            "The Danube",
            "The Danube flows through Vienna and Budapest before reaching the Black Sea.",
            1,
        ),
    );
    w.put("a", typed("a2", "Sourdough", "<html><body><h1>Sourdough</h1><p>Feed the <b>starter</b> with rye flour every morning.</p><script>var hidden = 'zzyzx';</script></body></html>", "text/html", "https://example.test/a2"));
    w.put(
        "a",
        typed(
            "a3",
            "Chess",
            "# Chess openings\n\nThe Sicilian Defence answers 1.e4 with c5.",
            "text/markdown",
            "https://example.test/a3",
        ),
    );
    w.put(
        "a",
        typed(
            "a4",
            "Holiday photo",
            "\u{89}PNG not text",
            "image/png",
            "https://example.test/a4",
        ),
    );
    w.put(
        "a",
        item(
            "a5",
            "Iceland",
            "Eyjafjallajokull erupted in 2010 and volcanic ash grounded flights across Europe.",
            1,
        ),
    );
    w.put(
        "o",
        item(
            "o1",
            "Budget",
            "Quarterly budget review for the marketing department.",
            1,
        ),
    );
    w.put(
        "b",
        item(
            "b1",
            "Gelato",
            "The secret pistachio gelato recipe of user B.",
            1,
        ),
    );
    w.put(
        "f",
        item(
            "f1",
            "Merger",
            "Foreign merger plans with pistachio suppliers.",
            1,
        ),
    );
}

on_every_backend!(
    works_when_search_finds_each_document_and_follows_changes,
    search_finds_each_document_and_follows_changes
);

async fn search_finds_each_document_and_follows_changes(b: &Backend) {
    let w = World::new(b).await;
    seed(&w);
    w.sync(&["a", "b", "o", "f"]).await;

    for (q, want) in [
        ("Vienna Budapest river", "a1"),
        ("rye starter", "a2"),
        ("Sicilian defence", "a3"),
        ("volcano eruption flights", "a5"),
        ("marketing budget", "o1"),
    ] {
        let ids = w.ids("a", q).await;
        assert_eq!(ids.first().map(String::as_str), Some(want), "{q}: {ids:?}");
    }
    let (_, body) = w.search("a", &[("q", "rye starter")]).await;
    let top = &body["results"][0];
    assert_eq!(body["mode"], "bm25");
    assert_eq!(top["url"], "https://example.test/a2");
    assert_eq!(top["title"], "Sourdough");
    assert_eq!(top["provider"], "paged");
    assert!(
        top["snippet"].as_str().unwrap().contains("rye flour"),
        "{top}"
    );
    assert!(top["score"].as_f64().unwrap() > 0.0);
    // Scripts are not text.
    assert!(w.ids("a", "zzyzx").await.is_empty());

    // The unsupported type is recorded as skipped, and the job still completed.
    let db = &w.s.state.runtime.services().db;
    let a = &w.integrations["a"].id;
    assert_eq!(
        db.skip_reason(a, "a4").await.unwrap().as_deref(),
        Some("unsupported mime type image/png")
    );
    assert_eq!(db.skip_reason(a, "a1").await.unwrap(), None);

    // The source changes: a1 is rewritten, a5 deleted; a full sync follows.
    w.put(
        "a",
        item(
            "a1",
            "The Danube",
            "The Danube is frozen near Belgrade this winter.",
            2,
        ),
    );
    w.remove("a", "a5");
    w.sync(&["a"]).await;
    assert!(w.ids("a", "Vienna Budapest").await.is_empty());
    assert_eq!(w.ids("a", "frozen Belgrade").await, vec!["a1"]);
    assert!(w.ids("a", "volcano eruption flights").await.is_empty());
    assert!(!w.ids("a", "Sicilian").await.is_empty());
    w.finish().await;
}

on_every_backend!(
    works_when_nobody_sees_anyone_elses_chunks_whatever_the_filters,
    nobody_sees_anyone_elses_chunks_whatever_the_filters
);

async fn nobody_sees_anyone_elses_chunks_whatever_the_filters(b: &Backend) {
    let w = World::new(b).await;
    seed(&w);
    w.sync(&["a", "b", "o", "f"]).await;

    // B's personal document and the foreign org's are invisible to A.
    assert!(w.ids("a", "pistachio").await.is_empty());
    assert_eq!(w.ids("b", "pistachio").await, vec!["b1"]);
    assert_eq!(w.ids("c", "pistachio").await, vec!["f1"]);
    // Org content reaches its members only.
    assert_eq!(w.ids("a", "marketing budget").await, vec!["o1"]);
    assert!(w.ids("b", "marketing budget").await.is_empty());

    // Filters naming someone else's integration or provider only narrow A's own view.
    for filter in [
        vec![("integration_id", w.integrations["b"].id.as_str())],
        vec![("integration_id", w.integrations["f"].id.as_str())],
        vec![("provider", "paged")],
    ] {
        let mut q = vec![("q", "pistachio gelato merger")];
        q.extend(filter);
        let (status, body) = w.search("a", &q).await;
        assert_eq!(status, 200);
        assert_eq!(body["results"], json!([]), "{q:?}");
    }
    let post = reqwest::Client::new()
        .post(format!("{}/api/search", w.s.base))
        .bearer_auth(&w.keys["a"])
        .json(&json!({"q": "pistachio", "integration_id": w.integrations["b"].id, "limit": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(post.json::<Value>().await.unwrap()["results"], json!([]));
    // The integration filter does narrow to one's own integration.
    let (_, body) = w
        .search(
            "a",
            &[
                ("q", "budget Danube"),
                ("integration_id", &w.integrations["o"].id),
            ],
        )
        .await;
    let ids: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["o1"]);

    // A time range narrows by the resources' modification times.
    let later = "1800000000000";
    let (_, body) = w.search("a", &[("q", "Danube"), ("from", later)]).await;
    assert_eq!(body["results"], json!([]));
    let (_, body) = w.search("a", &[("q", "Danube"), ("to", later)]).await;
    assert_eq!(body["results"][0]["external_id"], "a1");

    // Bad requests are typed errors; no key is 401.
    let (status, body) = w.search("a", &[("q", " ")]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    let (status, _) = w.search("a", &[("q", "x"), ("limit", "1000")]).await;
    assert_eq!(status, 400);
    for bad in [
        &[("q", "x"), ("limit", "many")][..],
        &[("q", "x"), ("owner", "user:b")][..],
    ] {
        let (status, body) = w.search("a", bad).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{body}"
        );
    }
    let anon = reqwest::get(format!("{}/api/search?q=pistachio", w.s.base))
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    w.finish().await;
}

on_every_backend!(
    works_when_metadata_only_keeps_no_text_anywhere,
    metadata_only_keeps_no_text_anywhere
);

async fn metadata_only_keeps_no_text_anywhere(backend: &Backend) {
    let w = World::new(backend).await;
    let db = &w.s.state.runtime.services().db;
    let b = &w.integrations["b"];
    db.update_integration_settings(&b.id, &b.config, "METADATA_ONLY", &b.sync_frequency)
        .await
        .unwrap();
    let marker = "quetzalcoatlus";
    w.put(
        "b",
        item(
            "b1",
            "Pterosaurs",
            &format!("The {marker} was the largest flying animal."),
            1,
        ),
    );
    // The same kind of text under FULL_CONTENT, to show the scan below does see stored text.
    let kept = "archaeopteryx";
    w.put(
        "a",
        item("a1", "Birds", &format!("The {kept} had feathers."), 1),
    );
    w.sync(&["a", "b"]).await;

    // Searchable by its words, but the hit carries no text.
    let (_, body) = w.search("b", &[("q", marker)]).await;
    assert_eq!(body["results"][0]["external_id"], "b1", "{body}");
    assert_eq!(body["results"][0]["snippet"], "");
    assert_eq!(body["results"][0]["title"], "Pterosaurs");
    // Not in what the store holds, read back point by point.
    let store = w.s.state.ingest.store();
    let mut texts = HashMap::new();
    let mut next = None;
    loop {
        let page = store.export(next, 100).await.unwrap();
        for p in page.points {
            texts.insert(p.meta.external_id.clone(), p.meta.text.clone());
        }
        match page.next {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    assert_eq!(texts["b1"], None);
    assert!(texts["a1"].as_deref().unwrap().contains(kept));
    // Nowhere on disk: not in the database, its WAL, or the index's files (the loopback
    // server's too).
    let mut dirs = vec![w.s.dir.path().to_path_buf()];
    dirs.extend(backend.fake().map(|f| f.dir()));
    let stored = |word: &str| {
        dirs.iter()
            .flat_map(|d| walk(d))
            .filter(|f| {
                // std's substring search (optimised even in a debug build of this test).
                String::from_utf8_lossy(&std::fs::read(f).unwrap()).contains(word)
            })
            .collect::<Vec<_>>()
    };
    assert!(!stored(kept).is_empty());
    let hits = stored(marker);
    assert!(hits.is_empty(), "the text is stored in {hits:?}");
    w.finish().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

on_every_backend!(
    works_when_purge_empties_and_verify_repairs_the_index,
    purge_empties_and_verify_repairs_the_index
);

async fn purge_empties_and_verify_repairs_the_index(b: &Backend) {
    let w = World::new(b).await;
    seed(&w);
    w.sync(&["a", "o"]).await;
    let db = &w.s.state.runtime.services().db;
    let store = w.s.state.ingest.store().clone();
    let (a, o) = (&w.integrations["a"].id, &w.integrations["o"].id);
    let clean = tributary::ingest::verify(db, store.as_ref(), false)
        .await
        .unwrap();
    assert!(clean.clean(), "{clean:?}");
    assert_eq!(clean.resources, 5); // a1, a2, a3, a5, o1 (a4 is skipped)

    // Drift both ways: points of a3 lost, a stray point left for a resource never synced.
    store.delete(a, &["a3".to_string()]).await.unwrap();
    let stray = tributary::index::ChunkPoint {
        id: tributary::index::ChunkPoint::id_for(a, "ghost", 0),
        sparse: tributary::index::Sparse {
            indices: vec![1],
            values: vec![1.0],
        },
        dense: None,
        meta: serde_json::from_value(json!({
            "owner": "user:x", "owner_kind": "user", "owner_id": "x", "integration_id": a,
            "provider": "paged", "external_id": "ghost", "kind": "item", "title": "ghost",
            "url": null, "author": null, "chunk_index": 0, "chunk_offset": 0,
            "created_at": null, "updated_at": null, "indexed_at": 0
        }))
        .unwrap(),
    };
    store
        .replace(a, &["ghost".to_string()], vec![stray])
        .await
        .unwrap();
    let report = tributary::ingest::verify(db, store.as_ref(), false)
        .await
        .unwrap();
    assert_eq!(report.drift.len(), 1);
    assert_eq!(report.drift[0].missing, vec!["a3"]);
    assert_eq!(report.drift[0].orphaned, vec!["ghost"]);
    assert!(w.ids("a", "Sicilian").await.is_empty());

    // Repair: the stray point goes, a3 is forgotten and a full sync brings it back.
    tributary::ingest::verify(db, store.as_ref(), true)
        .await
        .unwrap();
    while let Some((job, outcome)) = w.engine.run_once().await.unwrap() {
        assert_eq!(outcome, Outcome::Completed, "{job}");
    }
    assert!(
        tributary::ingest::verify(db, store.as_ref(), false)
            .await
            .unwrap()
            .clean()
    );
    assert_eq!(w.ids("a", "Sicilian").await, vec!["a3"]);

    // Disconnect without purge keeps the index; with purge it empties it.
    let http = reqwest::Client::new();
    let before = store.count(Some(a)).await.unwrap();
    let resp = http
        .delete(format!("{}/api/integrations/paged", w.s.base))
        .bearer_auth(&w.keys["a"])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(store.count(Some(a)).await.unwrap(), before);
    assert_eq!(store.count(Some(o)).await.unwrap(), 1);
    let resp = http
        .delete(format!(
            "{}/api/organizations/o/integrations/paged",
            w.s.base
        ))
        .bearer_auth(&w.keys["a"])
        .json(&json!({"purge": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(store.count(Some(o)).await.unwrap(), 0);
    assert!(db.synced_all(o).await.unwrap().is_empty());
    assert!(w.ids("a", "marketing budget").await.is_empty());
    // An integration disconnected earlier can still be purged.
    let resp = http
        .delete(format!("{}/api/integrations/paged", w.s.base))
        .bearer_auth(&w.keys["a"])
        .json(&json!({"purge": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(store.count(None).await.unwrap(), 0);
    assert!(
        tributary::ingest::verify(db, store.as_ref(), false)
            .await
            .unwrap()
            .clean()
    );
    w.finish().await;
}
