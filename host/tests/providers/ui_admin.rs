//! The web UI for admins and members, in a real Chromium: an admin signs in with a
//! one-time link, installs a plugin by uploading its `.wasm`, turns it off in the
//! registry and retries a dead job; a member sees neither admin pages nor anyone else's
//! integrations, and cannot change their organization's.

use serde_json::json;
use tributary::db::Role;

use crate::browser;
use crate::common::*;
use crate::sign_in::{PASSWORD, user_with_password};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_an_admin_installs_a_plugin_toggles_the_registry_and_retries_a_dead_job() {
    let Some(b) = browser::start().await else {
        return;
    };
    let s = serve_host_tuned(None, &["gdrive"], true, |c| c.frontend_url = None).await;
    let db = s.state.db().clone();
    let root = db.create_user("root@t.test", true).await.unwrap();
    let (_, member_key) = user_with_key(&db, "mia@t.test", false).await;

    // A job that failed three times in a row sits in the dead letters.
    let i = user_integration(&db, "olga@t.test", "gdrive").await;
    let (job, _) = db
        .request_sync(&i.id, "gdrive", "full", "manual")
        .await
        .unwrap();
    db.end_job(&job.id, "DEAD", Some("the provider kept failing"))
        .await
        .unwrap();

    let token = db
        .create_sign_in_link(&root.id, tributary::db::now_ms() + 60_000)
        .await
        .unwrap();
    b.goto(&format!("{}/#/link/{token}", s.base)).await;
    b.wait_hash("#/integrations").await;
    b.find("nav a[href='#/admin/plugins']").await;
    let url = b.client.current_url().await.unwrap();
    assert!(
        !url.as_str().contains(&token),
        "the link's token left the address bar: {url}"
    );

    // Install Substack from the browser.
    b.click("nav a[href='#/admin/plugins']").await;
    b.find("#upload-form").await;
    assert!(b.text("main").await.contains("Google Drive"));
    let wasm = component("substack");
    b.find("#plugin-file")
        .await
        .send_keys(wasm.to_str().unwrap())
        .await
        .unwrap();
    b.click("#upload-form button[type=submit]").await;
    b.wait_text("#toast", "Installed Substack").await;
    b.find("[data-plugin=substack]").await;
    b.screenshot("10-admin-plugins").await;
    assert!(s.state.runtime.get("substack").is_some());
    let offered = |key: String| {
        let base = s.base.clone();
        async move {
            let v = get_json(&format!("{base}/api/integrations"), &key).await;
            v["integrations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["provider"]["id"] == "substack")
        }
    };
    assert!(
        offered(member_key.clone()).await,
        "a member is offered the new provider"
    );

    // Turn it off in the registry: members are no longer offered it.
    b.click("nav a[href='#/admin/registry']").await;
    b.click("tr[data-provider=substack] input.toggle-enabled")
        .await;
    b.wait_text("#toast", "Saved substack.").await;
    b.screenshot("11-admin-registry").await;
    assert!(!db.registry_entry("substack").await.unwrap().enabled);
    assert!(!offered(member_key).await);

    // Retry the dead job from the monitor.
    b.goto(&format!("{}/#/admin/jobs?status=DEAD", s.base))
        .await;
    b.wait_text("main table", "the provider kept failing").await;
    b.screenshot("12-admin-dead-jobs").await;
    b.click(&format!("tr[data-job='{}'] button.retry", job.id))
        .await;
    b.wait_text("#toast", "Job queued again.").await;
    assert_eq!(
        db.sync_job(&job.id).await.unwrap().unwrap().status,
        "PENDING"
    );
    b.click("nav a[href='#/admin/stats']").await;
    b.wait_text("main", "Jobs by status").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_a_member_reaches_for_admin_pages_or_other_integrations() {
    let Some(b) = browser::start().await else {
        return;
    };
    let s = serve_host_tuned(None, &["gdrive"], true, |c| c.frontend_url = None).await;
    let db = s.state.db().clone();
    let olga_i = user_integration(&db, "olga@t.test", "gdrive").await;
    let olga = db.user_by_email("olga@t.test").await.unwrap().unwrap();
    assert_eq!(olga_i.owner_id, olga.id);
    let org = db.create_org("acme", &olga).await.unwrap();
    let bob = user_with_password(&db, "bob@t.test", false).await;
    db.set_member(&org, &bob, Role::Member).await.unwrap();

    b.sign_in(&s.base, "bob@t.test", PASSWORD).await;
    b.wait_text("main", "No integrations yet").await;
    assert!(
        !b.text("nav").await.contains("Registry"),
        "no admin links for members"
    );
    b.goto(&format!("{}/#/admin/registry", s.base)).await;
    b.wait_text("main", "This page is for platform admins.")
        .await;
    // Olga's Drive is not Bob's to see, by page or by API.
    b.goto(&format!("{}/#/integrations/gdrive", s.base)).await;
    b.wait_text("main", "not connected").await;
    let status = b
        .js("return fetch('/api/admin/plugins').then(r => r.status)")
        .await;
    assert_eq!(status, json!(403));
    let answer = b
        .js("return fetch('/api/integrations/connected').then(r => r.json())")
        .await;
    assert_eq!(answer["integrations"], json!([]));
    // A write without the CSRF token is refused even with the session cookie.
    let forged = b
        .js("return fetch('/api/integrations/gdrive/connect', {method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'}).then(r => r.status)")
        .await;
    assert_eq!(forged, json!(403));

    // Acting for the organization: reads work, nothing offers to change it.
    b.goto(&format!("{}/#/integrations", s.base)).await;
    b.find("#owner-select")
        .await
        .select_by_value("acme")
        .await
        .unwrap();
    b.wait_text("main h1", "acme's integrations").await;
    assert_eq!(
        b.js("return document.querySelectorAll(\"a[href^='#/connect/']\").length")
            .await,
        json!(0)
    );
    b.click("nav a[href='#/organizations']").await;
    b.wait_text("main", "you are member").await;
    assert_eq!(
        b.js("return document.querySelectorAll('main select, main form').length")
            .await,
        json!(0)
    );
    b.screenshot("13-member-organizations").await;
    b.close().await;
}
