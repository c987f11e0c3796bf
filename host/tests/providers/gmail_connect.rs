//! Gmail as a user meets it, through the whole host: an admin sets the OAuth client, a user
//! connects (PKCE, `gmail.readonly` only), the host starts `users.watch` on the configured
//! topic, the mailbox syncs into search, a Pub/Sub push brings new mail in, an expired
//! access token is refreshed, an expired history id turns the walk full, and disconnecting
//! stops the watch. Then the draft action: refused until an admin enables it, refused
//! while the connection lacks `gmail.compose`, refused for organization members, and then
//! exactly the requested draft at the fake, recorded in the job log.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tributary::db::{Connect, Owner, Role, status};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use crate::common::*;
use crate::gmail::{EMAIL, fixture, id, msg, push_body};
use crate::gmail_fake::{self, COMPOSE};
use crate::google_oauth;

const READ: &str = "https://www.googleapis.com/auth/gmail.readonly";
const TOPIC: &str = "projects/rivers/topics/gmail";
const PUSH_TOKEN: &str = "9f1c2e7a55d04b";

struct World {
    s: Served,
    mail: gmail_fake::Shared,
    oauth: google_oauth::Shared,
    fake: String,
    http: reqwest::Client,
    root: String,
}

async fn world() -> World {
    let mail: gmail_fake::Shared = Arc::new(Mutex::new(fixture()));
    mail.lock().unwrap().access_token = "not-issued-yet".into();
    let to_mail = mail.clone();
    let oauth = google_oauth::new(Box::new(move |access, scopes| {
        let mut m = to_mail.lock().unwrap();
        m.access_token = access.into();
        m.scopes = scopes.to_vec();
    }));
    let router = gmail_fake::router(mail.clone()).merge(google_oauth::router(oauth.clone()));
    let fake = format!("http://{}", serve(router).await);
    let s = serve_host(None, &["gmail"], true).await;
    let (_, root) = user_with_key(s.state.db(), "root@t.test", true).await;
    let http = google_oauth::client();
    let w = World {
        s,
        mail,
        oauth,
        fake,
        http,
        root,
    };
    let apis = ["https://gmail.googleapis.com", "https://www.googleapis.com"];
    google_oauth::configure(
        &w.http,
        &w.s.base,
        &w.root,
        "gmail",
        (&w.fake, &w.fake),
        &apis,
    )
    .await;
    w.s.state
        .runtime
        .services()
        .set_secret("gmail", "push_token", PUSH_TOKEN);
    w
}

impl World {
    async fn admin(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .put(format!("{}/api/admin/{path}", self.s.base))
            .bearer_auth(&self.root)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Connect through Google's consent screen; the URL the browser ends on.
    async fn connect(&self, key: &str, body: Value) -> String {
        google_oauth::connect(&self.http, &self.s.base, key, "gmail", &self.fake, body).await
    }

    async fn action(&self, key: &str, org: Option<&str>, input: Value) -> (u16, Value) {
        let path = match org {
            Some(slug) => format!("organizations/{slug}/integrations/gmail/actions/create_draft"),
            None => "integrations/gmail/actions/create_draft".into(),
        };
        let resp = self
            .http
            .post(format!("{}/api/{path}", self.s.base))
            .bearer_auth(key)
            .json(&input)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_user_connects_gmail_gets_pushed_mail_and_resyncs() {
    let w = world().await;
    let db = w.s.state.db().clone();
    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let to = w.connect(&key, json!({"config": {"topic": TOPIC}})).await;
    assert!(to.contains("status=connected"), "{to}");
    assert_eq!(
        w.oauth.lock().unwrap().asked,
        vec![READ.to_string()],
        "no compose scope unless drafts are enabled"
    );
    let row = db
        .integration(&Owner::User(ada.id.clone()), "gmail")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.account_id.as_deref()),
        (status::ACTIVE, Some(EMAIL))
    );
    assert_eq!(
        row.config["topic"], TOPIC,
        "settings given at connect survive the consent screen"
    );

    // users.watch on the configured topic, renewed daily.
    let watch = w.mail.lock().unwrap().watches[0].clone();
    assert_eq!(watch["topicName"], TOPIC);
    let sub = db.subscription(&row.id).await.unwrap().unwrap();
    assert_eq!(
        sub.subscription_id.as_deref(),
        Some(format!("watch:{TOPIC}").as_str())
    );
    let left = sub.expires_at.unwrap() - tributary::db::now_ms();
    assert!((31 * 3_600_000..=32 * 3_600_000).contains(&left), "{left}");

    let engine = SyncEngine::new(
        w.s.state.runtime.clone(),
        w.s.state.ingest.clone(),
        EngineConfig::default(),
    );
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(held(&db, &row.id).await.len(), 540);
    let found = search(&w.s.base, &key, "Weir inspection schedule").await;
    assert_eq!(
        found["results"][0]["external_id"],
        id(14).as_str(),
        "{found}"
    );
    let found = search(&w.s.base, &key, "sluice-gate-survey-11.pdf").await;
    assert_eq!(
        found["results"][0]["external_id"],
        id(11).as_str(),
        "attachment names: {found}"
    );

    // New mail, then Pub/Sub's push to the per-app endpoint.
    let history = {
        let mut m = w.mail.lock().unwrap();
        let mut new = msg(700, &["INBOX"]);
        new.subject = "Estuary dredging permit granted".into();
        new.payload = gmail_fake::plain(
            &new.from,
            &new.subject,
            new.at,
            "The permit for dredging was granted today.",
        );
        m.add(new);
        m.history_id
    };
    let push = |query: String, message_id: &str| {
        w.http
            .post(format!(
                "{}/api/webhooks/integrations/gmail?{query}",
                w.s.base
            ))
            .header("content-type", "application/json")
            .body(push_body(EMAIL, history, message_id))
            .send()
    };
    assert_eq!(
        push("token=guess".into(), "5001").await.unwrap().status(),
        401
    );
    assert_eq!(
        push(format!("token={PUSH_TOKEN}"), "5001")
            .await
            .unwrap()
            .status(),
        200
    );
    let again = push(format!("token={PUSH_TOKEN}"), "5001").await.unwrap();
    assert_eq!(
        again.json::<Value>().await.unwrap()["duplicate"],
        true,
        "Pub/Sub redelivers"
    );
    let fanout = tributary::webhooks::Fanout::new(db.clone(), &w.s.state.webhooks);
    assert_eq!(fanout.drain().await.unwrap().done, 1);
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    let found = search(&w.s.base, &key, "estuary dredging permit").await;
    assert_eq!(
        found["results"][0]["external_id"],
        id(700).as_str(),
        "{found}"
    );

    // Google expired the access token: refreshed once, the walk goes on.
    w.mail.lock().unwrap().access_token = "ya29.revoked".into();
    w.mail.lock().unwrap().delete(&id(9));
    db.request_sync(&row.id, "gmail", "incremental", "manual")
        .await
        .unwrap();
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    assert_eq!(w.oauth.lock().unwrap().refresh_grants, 1);
    assert!(!held(&db, &row.id).await.contains(&id(9)));

    // A history id Gmail no longer keeps: the walk turns full and converges.
    {
        let mut m = w.mail.lock().unwrap();
        m.oldest_history = u64::MAX;
        m.delete(&id(10));
    }
    let (job, _) = db
        .request_sync(&row.id, "gmail", "incremental", "manual")
        .await
        .unwrap();
    assert!(run_due(&engine).await.contains(&Outcome::Completed));
    let job = db.sync_job(&job.id).await.unwrap().unwrap();
    assert_eq!(
        (job.mode.as_str(), job.status.as_str()),
        ("full", "COMPLETED"),
        "{job:?}"
    );
    let now = held(&db, &row.id).await;
    assert_eq!(now.len(), 539);
    assert!(!now.contains(&id(10)) && now.contains(&id(700)));

    // Disconnect stops the watch.
    let resp = w
        .http
        .delete(format!("{}/api/integrations/gmail", w.s.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(w.mail.lock().unwrap().stops, 1);
}

fn decoded_body(raw: &str) -> String {
    let b64: String = raw
        .split("\r\n\r\n")
        .nth(1)
        .unwrap()
        .split("\r\n")
        .collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_draft_action_is_enabled_granted_and_run_by_a_writer() {
    let w = world().await;
    let db = w.s.state.db().clone();
    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    assert!(
        w.connect(&key, json!({}))
            .await
            .contains("status=connected")
    );
    let draft = json!({"to": ["grace@example.com"], "subject": "Flood gauge readings — week 48",
        "body": "Grace,\nthe readings are attached to the shared sheet.\nAda"});

    let (code, body) = w.action(&key, None, draft.clone()).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("action_disabled")),
        "{body}"
    );
    let bad = w
        .admin(
            "integrations/registry/gmail",
            json!({"enabled_actions": ["send_everything"]}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let on = w
        .admin(
            "integrations/registry/gmail",
            json!({"enabled_actions": ["create_draft"]}),
        )
        .await;
    assert_eq!(on.status(), 200);

    // Connected before drafts were enabled: Google never granted gmail.compose.
    let (code, body) = w.action(&key, None, draft.clone()).await;
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reconnect"),
        "{body}"
    );
    assert!(
        w.connect(&key, json!({}))
            .await
            .contains("status=connected")
    );
    assert_eq!(
        w.oauth.lock().unwrap().asked[1],
        format!("{READ} {COMPOSE}")
    );

    // A header injected through the subject is refused before the plugin runs.
    let mut injected = draft.clone();
    injected["subject"] = json!("Hi\r\nBcc: everyone@example.com");
    let (code, _) = w.action(&key, None, injected).await;
    assert_eq!(code, 400);
    assert!(w.mail.lock().unwrap().drafts.is_empty());

    let (code, body) = w.action(&key, None, draft.clone()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["result"]["draft_id"], "r-647179293961901291");
    let drafts = w.mail.lock().unwrap().drafts.clone();
    assert_eq!(drafts.len(), 1, "exactly one draft");
    let raw = &drafts[0];
    assert!(raw.starts_with("To: grace@example.com\r\n"), "{raw}");
    let subject = format!(
        "Subject: =?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode("Flood gauge readings — week 48")
    );
    assert!(raw.contains(&subject), "{raw}");
    assert!(!raw.contains("Bcc"));
    assert_eq!(
        decoded_body(raw),
        "Grace,\r\nthe readings are attached to the shared sheet.\r\nAda"
    );

    // Audited in the job log.
    let row = db
        .integration(&Owner::User(ada.id.clone()), "gmail")
        .await
        .unwrap()
        .unwrap();
    let jobs = w
        .http
        .get(format!(
            "{}/api/admin/integrations/sync-jobs?integration_id={}",
            w.s.base, row.id
        ))
        .bearer_auth(&w.root)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let audited: Vec<&Value> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["mode"] == "action")
        .collect();
    assert_eq!(audited.len(), 1, "{jobs}");
    assert_eq!(
        (
            audited[0]["status"].as_str(),
            audited[0]["external_id"].as_str(),
            audited[0]["trigger"].as_str()
        ),
        (Some("COMPLETED"), Some("create_draft"), Some("api"))
    );
    assert!(
        audited[0]["error_details"]
            .as_str()
            .unwrap()
            .contains(&ada.id)
    );

    // An organization's mailbox: members read, only owners and admins run actions.
    let (owner, owner_key) = user_with_key(&db, "owner@t.test", false).await;
    let (bob, bob_key) = user_with_key(&db, "bob@t.test", false).await;
    let org = db.create_org("rivers", &owner).await.unwrap();
    db.set_member(&org, &bob, Role::Member).await.unwrap();
    let org_owner = Owner::Org(org.id.clone());
    let config = Map::new();
    let org_row = db
        .connect_integration(Connect {
            owner: &org_owner,
            provider: "gmail",
            user_id: &owner.id,
            config: &config,
            account: ("team@example.com", "team@example.com"),
        })
        .await
        .unwrap();
    let access = w.mail.lock().unwrap().access_token.clone();
    let tokens = tributary::oauth::TokenSet {
        access,
        refresh: None,
        expires_at: None,
        scopes: vec![READ.into(), COMPOSE.into()],
    };
    w.s.state
        .vault
        .store(
            &org_row.id,
            tributary::credentials::Kind::Oauth2,
            &tokens,
            None,
        )
        .await
        .unwrap();
    let (code, body) = w.action(&bob_key, Some("rivers"), draft.clone()).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    assert_eq!(w.mail.lock().unwrap().drafts.len(), 1);
    let (code, body) = w.action(&owner_key, Some("rivers"), draft).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(w.mail.lock().unwrap().drafts.len(), 2);

    // Disabled again: refused, nothing more at Google.
    assert_eq!(
        w.admin(
            "integrations/registry/gmail",
            json!({"enabled_actions": []})
        )
        .await
        .status(),
        200
    );
    let (code, _) = w
        .action(
            &key,
            None,
            json!({"to": ["x@example.com"], "subject": "s", "body": "b"}),
        )
        .await;
    assert_eq!(code, 403);
    assert_eq!(w.mail.lock().unwrap().drafts.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_metadata_only_mailbox_is_searchable_without_keeping_text() {
    let w = world().await;
    let db = w.s.state.db().clone();
    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let body = json!({"storage_strategy": "METADATA_ONLY"});
    assert!(w.connect(&key, body).await.contains("status=connected"));
    // Gmail's metadata scope cannot read bodies or search: the read scope stays.
    assert_eq!(w.oauth.lock().unwrap().asked, vec![READ.to_string()]);
    let row = db
        .integration(&Owner::User(ada.id.clone()), "gmail")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.storage_strategy, "METADATA_ONLY");
    let engine = SyncEngine::new(
        w.s.state.runtime.clone(),
        w.s.state.ingest.clone(),
        EngineConfig::default(),
    );
    assert_eq!(run_due(&engine).await, vec![Outcome::Completed]);
    let found = search(&w.s.base, &key, "Weir inspection schedule").await;
    assert_eq!(
        found["results"][0]["external_id"],
        id(14).as_str(),
        "{found}"
    );
    assert_eq!(found["results"][0]["snippet"], "", "no text kept: {found}");
}
