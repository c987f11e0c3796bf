//! The GitLab plugin (the real `.wasm`) against the fake GitLab: two projects (one in a
//! subgroup) and one gone, 509 resources walked through keyset tree pages and offset
//! issue pages (`X-Next-Page`); an incremental walk answered by 304s; a new note; a 429
//! with `Retry-After`. Then through the whole host on a self-managed instance (the
//! admin's override of `https://gitlab.com`), connected with a personal access token:
//! project hooks with the subscription's token, search by words from a note, a hook
//! delivery that updates one issue, a forged token and a replayed event refused.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tributary::credentials::{Credential, Kind};
use tributary::db::{Owner, status};
use tributary::model::{ListMode, Page, PluginError};
use tributary::runtime::{CallError, Integration, Limits};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use crate::common::*;
use crate::gdrive::walk;
use crate::gitlab_fake::{self, GitLab, PAT};
use crate::slack::text;

const NOTE: &str = "rivers/dams/-/issues/17";

/// `rivers/dams` (150 issues, 80 merge requests with notes, 23 documents among 120
/// source files, a PNG, 5 wiki pages) and `rivers/sub/weirs` (250 issues, a README).
fn fixture() -> GitLab {
    let mut g = GitLab::new(PAT);
    let dams = g.project("rivers/dams");
    dams.files
        .insert("README.md".into(), b"# Dams\nSpillway operations.".to_vec());
    dams.files.insert(
        "docs/design.md".into(),
        b"# Design\nThe spillway crest sits at 12 m.".to_vec(),
    );
    dams.files
        .insert("docs/diagram.png".into(), vec![0x89, b'P', b'N', b'G', 0]);
    for i in 0..20 {
        dams.files.insert(
            format!("docs/logs/log-{i:02}.md"),
            format!("Gate log {i}").into_bytes(),
        );
    }
    for i in 0..120 {
        dams.files
            .insert(format!("src/mod_{i:03}.rs"), b"pub fn f() {}".to_vec());
    }
    for iid in 1..=150u64 {
        dams.item("issues", iid, &format!("Spillway issue {iid}"), iid);
    }
    dams.note("issues", 17, "katherine", "Label changed", true, 400);
    dams.note(
        "issues",
        17,
        "katherine",
        "The fish ladder needs a bypass channel for eels",
        false,
        401,
    );
    for iid in 1..=80u64 {
        dams.item(
            "merge_requests",
            iid,
            &format!("Raise gate {iid}"),
            500 + iid,
        );
        if iid % 20 == 0 {
            dams.note(
                "merge_requests",
                iid,
                "ada",
                "Approved after the load test",
                false,
                700 + iid,
            );
        }
    }
    for w in 0..5 {
        dams.wikis.push(
            json!({"slug": format!("page-{w}"), "title": format!("Page {w}"), "format": "markdown",
            "content": format!("Wiki page {w}: turbine maintenance"), "encoding": "UTF-8"}),
        );
    }
    let weirs = g.project("rivers/sub/weirs");
    weirs.files.insert("README.md".into(), b"# Weirs".to_vec());
    for iid in 1..=250u64 {
        weirs.item("issues", iid, &format!("Weir issue {iid}"), 1000 + iid);
    }
    g
}

fn config() -> Vec<(String, String)> {
    vec![(
        "projects".into(),
        "rivers/dams, rivers/sub/weirs, rivers/ghost".into(),
    )]
}

fn ids(pages: &[Page]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.resources.iter().map(|r| r.id.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_gitlab_walks_projects_then_only_changes() {
    let gitlab = Arc::new(Mutex::new(fixture()));
    let addr = serve(gitlab_fake::router(gitlab.clone())).await;
    let t = host(None, &["gitlab"], Limits::default(), true).await;
    t.runtime
        .services()
        .set_settings("gitlab", base_override("https://gitlab.com", addr))
        .await
        .unwrap();
    t.credentials.set(
        "gl-1",
        Credential {
            kind: Kind::ApiKey,
            secret: PAT.into(),
            username: None,
            scopes: vec![],
            expires_at: None,
        },
    );
    let mut s = t
        .runtime
        .session("gitlab", Some(Integration::new("gl-1", config())))
        .await
        .unwrap();
    assert_eq!(s.check().await.unwrap().name, "Ada Lovelace");

    let pages = walk(&mut s, ListMode::Full, None).await;
    let all = ids(&pages);
    assert_eq!(
        all.len(),
        509,
        "{:?}",
        all.iter()
            .filter(|i| !i.contains("/issues/") && !i.contains("/merge_requests/"))
            .collect::<Vec<_>>()
    );
    let calls = gitlab.lock().unwrap().calls.clone();
    assert!(
        calls
            .iter()
            .any(|c| c.contains("/repository/tree") && c.contains("page_token=")),
        "keyset pages"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.contains("/issues?") && c.contains("page=2")),
        "X-Next-Page followed"
    );
    assert!(all.contains(&"rivers/sub/weirs/-/issues/250".to_string()));
    assert!(all.contains(&"rivers/dams/-/wikis/page-3".to_string()));
    let issue = s.fetch(NOTE).await.unwrap();
    let body = text(&issue);
    assert_eq!(issue.title, "rivers/dams#17: Spillway issue 17");
    assert!(
        body.contains("bypass channel for eels") && !body.contains("Label changed"),
        "{body}"
    );
    let mr = s.fetch("rivers/dams/-/merge_requests/40").await.unwrap();
    assert!(mr.title.starts_with("rivers/dams!40") && text(&mr).contains("load test"));

    for bad in [
        "rivers/../-/issues/1",
        "rivers/dams/-/blob/../../user",
        "no-separator",
    ] {
        let err = s.fetch(bad).await.unwrap_err();
        assert!(
            matches!(err, CallError::Plugin(PluginError::InvalidInput(_))),
            "{bad}: {err:?}"
        );
    }
    let primed = walk(
        &mut s,
        ListMode::Incremental,
        pages.last().unwrap().sync_token.clone(),
    )
    .await;
    assert!(ids(&primed).is_empty(), "{:?}", ids(&primed));
    let (calls, free) = {
        let g = gitlab.lock().unwrap();
        (g.calls.len(), g.not_modified)
    };
    let quiet = walk(
        &mut s,
        ListMode::Incremental,
        primed.last().unwrap().sync_token.clone(),
    )
    .await;
    assert!(ids(&quiet).is_empty(), "{:?}", ids(&quiet));
    {
        let g = gitlab.lock().unwrap();
        assert_eq!(
            g.not_modified - free,
            g.calls.len() - calls,
            "every listing of a quiet poll answers 304"
        );
        assert_eq!(
            g.calls.len() - calls,
            8,
            "branch, issues, merge requests, wiki of two projects"
        );
    }

    gitlab.lock().unwrap().project("rivers/dams").note(
        "issues",
        3,
        "ada",
        "Sluice repainted",
        false,
        9000,
    );
    let inc = walk(
        &mut s,
        ListMode::Incremental,
        quiet.last().unwrap().sync_token.clone(),
    )
    .await;
    assert_eq!(ids(&inc), vec!["rivers/dams/-/issues/3".to_string()]);

    gitlab.lock().unwrap().limited_next = 1;
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(r)) if r.retry_after_ms == Some(2000)),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_self_managed_gitlab_is_connected_with_a_token_and_hooks_update_issues() {
    let gitlab = Arc::new(Mutex::new(fixture()));
    let fake = format!(
        "http://{}",
        serve(gitlab_fake::router(gitlab.clone())).await
    );
    let s = serve_host(None, &["gitlab"], true).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let http = crate::google_oauth::client();
    let saved = http
        .put(format!("{}/api/admin/providers/gitlab/settings", s.base))
        .bearer_auth(&root)
        .json(&json!({"base_urls": {"https://gitlab.com": fake}}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let connect = |token: &str| {
        http.post(format!("{}/api/integrations/gitlab/connect", s.base))
            .bearer_auth(&key)
            .json(
                &json!({"api_key": token, "config": {"projects": "rivers/dams, rivers/sub/weirs"}}),
            )
            .send()
    };
    let refused = connect("glpat-wrong").await.unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let made = connect(PAT).await.unwrap();
    assert_eq!(made.status(), 201, "{:?}", made.text().await);
    let row = db
        .integration(&Owner::User(ada.id.clone()), "gitlab")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.account_id.as_deref()),
        (status::ACTIVE, Some("4"))
    );
    let (callback, token) = {
        let g = gitlab.lock().unwrap();
        let hooks: Vec<&Value> = g.projects.values().flat_map(|p| p.hooks.iter()).collect();
        assert_eq!(hooks.len(), 2);
        assert!(
            hooks
                .iter()
                .all(|h| h["note_events"] == true && h["enable_ssl_verification"] == true)
        );
        (
            hooks[0]["url"].as_str().unwrap().to_string(),
            hooks[0]["token"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        callback,
        format!("{}/api/webhooks/integrations/gitlab/{}", s.base, row.id)
    );

    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(held(&db, &row.id).await.len(), 509);
    let found = search(&s.base, &key, "fish ladder bypass channel for eels").await;
    assert_eq!(found["results"][0]["external_id"], NOTE, "{found}");

    gitlab.lock().unwrap().project("rivers/dams").note(
        "issues",
        5,
        "katherine",
        "Otters nest under the stilling basin",
        false,
        9100,
    );
    let delivery = json!({"object_kind": "note", "event_type": "note",
        "user": {"id": 5, "username": "katherine"}, "project_id": 278964,
        "project": {"id": 278964, "path_with_namespace": "rivers/dams", "default_branch": "main"},
        "object_attributes": {"id": 9, "note": "Otters nest under the stilling basin", "noteable_type": "Issue"},
        "issue": {"id": 27896400005u64, "iid": 5, "title": "Spillway issue 5"}})
    .to_string();
    let post = |tok: &str, uuid: &str| {
        http.post(&callback)
            .header("content-type", "application/json")
            .header("X-Gitlab-Event", "Note Hook")
            .header("X-Gitlab-Token", tok)
            .header("X-Gitlab-Event-UUID", uuid)
            .header("X-Gitlab-Instance", "https://gitlab.rivers.test")
            .header("User-Agent", "GitLab/18.6.0")
            .body(delivery.clone())
            .send()
    };
    assert_eq!(
        post("guess", "u1").await.unwrap().status(),
        401,
        "a forged token"
    );
    let uuid = "13792a34-cac6-4fda-95a8-c58e00a3954e";
    assert_eq!(post(&token, uuid).await.unwrap().status(), 200);
    let again = post(&token, uuid).await.unwrap();
    assert_eq!(again.json::<Value>().await.unwrap()["duplicate"], true);
    let fanout = tributary::webhooks::Fanout::new(db.clone(), &s.state.webhooks);
    assert_eq!(fanout.drain().await.unwrap().done, 1);
    run_due(&engine).await;
    let found = search(&s.base, &key, "otters stilling basin").await;
    assert_eq!(
        found["results"][0]["external_id"], "rivers/dams/-/issues/5",
        "{found}"
    );

    // Disconnecting removes the project hooks.
    let gone = http
        .delete(format!("{}/api/integrations/gitlab", s.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let g = gitlab.lock().unwrap();
    assert!(
        g.projects.values().all(|p| p.hooks.is_empty()),
        "hooks deleted"
    );
}
