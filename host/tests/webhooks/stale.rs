//! No stale overwrite: whichever of a webhook job and a walk writes last, the index keeps
//! the content with the newest modified time the provider gave.

use std::sync::Arc;

use serde_json::json;
use tributary::sync::{EngineConfig, NoopSink, Outcome, SyncEngine};
use tributary::webhooks::Fanout;

use super::common::*;
use super::*;

fn hash(id: &str, body: &str) -> String {
    tributary_sdk::Content::text(id, "item", id, body).content_hash
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_older_content_never_replaces_newer() {
    let (s, api) = paged_host(&["paged"], |_| {}).await;
    let db = s.state.db();
    let row = user_integration(db, "stale@t.test", "paged").await;
    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        Arc::new(NoopSink),
        EngineConfig::default(),
    );
    let fanout = Fanout::new(db.clone(), &s.state.webhooks);
    let hook = format!("{}/api/webhooks/integrations/paged/{}", s.base, row.id);
    let held_hash = async || db.synced_all(&row.id).await.unwrap()[0].1.clone();
    let run_all = async || {
        while let Some((_, o)) = engine.run_once().await.unwrap() {
            assert_eq!(o, Outcome::Completed);
        }
    };
    let webhook = async || {
        assert_eq!(post(&hook, &json!({"changed": ["x"]}), None).await.0, 200);
        fanout.drain().await.unwrap();
        run_all().await;
    };

    // A webhook brings version 5.
    api.lock().unwrap().put("x", "new", 5);
    webhook().await;
    assert_eq!(held_hash().await, hash("x", "new"));
    // A walk that read the resource before that change (modified 2) does not win.
    api.lock().unwrap().put("x", "old", 2);
    db.request_sync(&row.id, "paged", "full", "manual")
        .await
        .unwrap();
    run_all().await;
    assert_eq!(
        held_hash().await,
        hash("x", "new"),
        "the walk's older read was dropped"
    );
    assert_eq!(
        db.synced_all(&row.id).await.unwrap().len(),
        1,
        "and not deleted"
    );
    // Newer content from a walk replaces it.
    api.lock().unwrap().put("x", "newer", 9);
    db.request_sync(&row.id, "paged", "full", "manual")
        .await
        .unwrap();
    run_all().await;
    assert_eq!(held_hash().await, hash("x", "newer"));
    // A late webhook fetch of something older does not win either.
    api.lock().unwrap().put("x", "late", 7);
    webhook().await;
    assert_eq!(held_hash().await, hash("x", "newer"));
    // Equal times are not older: the content moved on without a new time.
    api.lock().unwrap().put("x", "same time", 9);
    webhook().await;
    assert_eq!(held_hash().await, hash("x", "same time"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_resource_a_webhook_wrote_during_a_full_walk_survives_its_end() {
    let (s, api) = paged_host(&["paged"], |_| {}).await;
    let db = s.state.db().clone();
    let row = user_integration(&db, "race@t.test", "paged").await;
    // One item a page, one page a slice: the walk gives way when other work is due.
    let config = || EngineConfig {
        page_size: 1,
        slice_pages: 1,
        ..EngineConfig::default()
    };
    let walker = Arc::new(SyncEngine::new(
        s.state.runtime.clone(),
        Arc::new(NoopSink),
        config(),
    ));
    let hooks = SyncEngine::new(s.state.runtime.clone(), Arc::new(NoopSink), config());
    let fanout = Fanout::new(db.clone(), &s.state.webhooks);
    let hook = format!("{}/api/webhooks/integrations/paged/{}", s.base, row.id);
    let (reached, release) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    {
        let mut a = api.lock().unwrap();
        a.put("b", "b", 1);
        a.put("c", "c", 1);
        a.hold = Some(("b".into(), reached.clone(), release.clone()));
    }
    db.request_sync(&row.id, "paged", "full", "manual")
        .await
        .unwrap();
    let walk = tokio::spawn({
        let walker = walker.clone();
        async move { walker.run_once().await.unwrap().unwrap().1 }
    });
    // The walk listed its first page ("b") and fetches it; meanwhile "a" is created and
    // announced, behind the walk's position in the listing.
    reached.notified().await;
    api.lock().unwrap().put("a", "a", 2);
    assert_eq!(post(&hook, &json!({"changed": ["a"]}), None).await.0, 200);
    fanout.drain().await.unwrap();
    release.notify_one();
    assert_eq!(
        walk.await.unwrap(),
        Outcome::Yielded,
        "the walk gave way to the webhook job"
    );
    assert_eq!(
        hooks.run_once().await.unwrap().unwrap().1,
        Outcome::Completed
    );
    assert_eq!(
        walker.run_once().await.unwrap().unwrap().1,
        Outcome::Completed
    );
    assert_eq!(
        held(&db, &row.id).await,
        ["a", "b", "c"],
        "the walk's end did not delete what the webhook wrote"
    );
}
