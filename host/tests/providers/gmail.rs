//! The Gmail plugin (the real `.wasm`) against the fake Gmail: a 548-message mailbox
//! walked newest first (multipart, HTML-only, attachments; spam and trash left out), read
//! through the host's email extractor, history-based incremental walks, the 404 of an
//! expired history id, 429s, the label / query / date filters, and push deliveries
//! verified by the URL token and by a Google-signed OIDC token.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use serde_json::json;
use tributary::credentials::{Credential, Kind};
use tributary::model::{Body, ListMode, ListRequest, PluginError, WebhookRequest};
use tributary::runtime::{CallError, Integration, Limits, Session};

use crate::common::*;
use crate::gdrive::walk;
use crate::gmail_fake::{self, Mailbox, Msg};

pub const TOKEN: &str = "ya29.gmail";
pub const EMAIL: &str = "ada@example.com";
/// 2026-01-01T00:00:00Z.
pub const START_MS: i64 = 1_767_225_600_000;
const HOUR: i64 = 3_600_000;

pub fn msg(i: i64, labels: &[&str]) -> Msg {
    let at = START_MS + i * HOUR;
    let from = format!("Correspondent {} <c{}@rivers.example>", i % 17, i % 17);
    let subject = match i {
        14 => "Weir inspection schedule".to_string(),
        11 => "Survey attached".to_string(),
        _ => format!("Message {i}"),
    };
    let payload = match i % 4 {
        0 => gmail_fake::plain(
            &from,
            &subject,
            at,
            &format!("Plain note {i} about the floodplain."),
        ),
        1 => gmail_fake::alternative(
            &from,
            &subject,
            at,
            &format!("Text part {i}: lock keeper rota"),
            &format!("<p>HTML part {i}: <b>lock keeper</b> rota</p>"),
        ),
        2 => gmail_fake::html_only(
            &from,
            &subject,
            at,
            &format!(
                "<html><body><h1>Bulletin {i}</h1><p>The weir gates open at dawn &amp; dusk.</p></body></html>"
            ),
        ),
        _ => gmail_fake::with_attachment(
            &from,
            &subject,
            at,
            &format!("See attached {i}."),
            &format!("sluice-gate-survey-{i}.pdf"),
        ),
    };
    Msg {
        id: format!("19d{:013x}", at),
        thread: format!("19d{:013x}", START_MS + (i / 3) * 3 * HOUR),
        at,
        labels: labels.iter().map(|s| s.to_string()).collect(),
        from,
        subject,
        history: 0,
        payload,
    }
}

/// 540 live messages an hour apart from 2026-01-01 (every fifth also `Label_2`, every
/// tenth sent rather than received), and 8 in spam or trash.
pub fn fixture() -> Mailbox {
    let mut m = Mailbox {
        email: EMAIL.into(),
        access_token: TOKEN.into(),
        history_id: 86_000,
        ..Default::default()
    };
    for i in 0..540 {
        let mut labels = vec![if i % 10 == 0 { "SENT" } else { "INBOX" }];
        if i % 5 == 0 {
            labels.push("Label_2");
        }
        m.add(msg(i, &labels));
    }
    for i in 540..548 {
        m.add(msg(i, &[if i % 2 == 0 { "SPAM" } else { "TRASH" }]));
    }
    m
}

pub fn id(i: i64) -> String {
    format!("19d{:013x}", START_MS + i * HOUR)
}

pub fn settings(addr: std::net::SocketAddr) -> tributary::services::ProviderSettings {
    let mut s = base_override("https://gmail.googleapis.com", addr);
    s.base_urls.insert(
        "https://www.googleapis.com".into(),
        format!("http://{addr}"),
    );
    s
}

struct Fake {
    mail: gmail_fake::Shared,
    t: TestHost,
}

async fn setup() -> Fake {
    let mail = Arc::new(Mutex::new(fixture()));
    let addr = serve(gmail_fake::router(mail.clone())).await;
    let t = host(None, &["gmail"], Limits::default(), true).await;
    t.runtime
        .services()
        .set_settings("gmail", settings(addr))
        .await
        .unwrap();
    let credential = Credential {
        kind: Kind::Oauth2,
        secret: TOKEN.into(),
        username: None,
        scopes: vec![],
        expires_at: None,
    };
    t.credentials.set("gm-1", credential);
    Fake { mail, t }
}

impl Fake {
    async fn session(&self, config: &[(&str, &str)]) -> Session {
        let config = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.t
            .runtime
            .session("gmail", Some(Integration::new("gm-1", config)))
            .await
            .unwrap()
    }
}

fn text_of(body: &Body) -> String {
    tributary::ingest::extract("message/rfc822", body)
        .unwrap()
        .text
}

fn ids(pages: &[tributary::model::Page]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.resources.iter().map(|r| r.id.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_gmail_walks_newest_first_then_follows_history() {
    let fake = setup().await;
    let mut s = fake.session(&[]).await;
    assert_eq!(s.check().await.unwrap().id, EMAIL);

    let before = fake.mail.lock().unwrap().history_id;
    let pages = walk(&mut s, ListMode::Full, None).await;
    let listed = ids(&pages);
    assert_eq!(listed.len(), 540, "spam and trash are left out");
    assert_eq!(pages.len(), 6, "pages of 100");
    assert_eq!(listed[0], id(539), "newest first");
    assert_eq!(listed[539], id(0));
    assert_eq!(
        pages.last().unwrap().sync_token.as_deref(),
        Some(before.to_string().as_str()),
        "the history id taken before the walk"
    );

    // What the host indexes: headers, the text (or HTML) body, labels, attachment names.
    let html = s.fetch(&id(14)).await.unwrap();
    assert_eq!(
        (html.title.as_str(), html.mime_type.as_str()),
        ("Weir inspection schedule", "message/rfc822")
    );
    let text = text_of(&html.body);
    assert!(
        text.contains("weir gates open at dawn & dusk"),
        "HTML-only mail as text: {text}"
    );
    assert!(
        text.contains("From: Correspondent 14 <c14@rivers.example>"),
        "{text}"
    );
    assert_eq!(
        html.author.as_ref().unwrap().email.as_deref(),
        Some("c14@rivers.example")
    );
    assert_eq!(html.created_at, Some(START_MS + 14 * HOUR));
    let alt = text_of(&s.fetch(&id(5)).await.unwrap().body);
    assert!(
        alt.contains("Text part 5: lock keeper rota") && !alt.contains("<b>"),
        "{alt}"
    );
    let attached = s.fetch(&id(11)).await.unwrap();
    let text = text_of(&attached.body);
    assert!(
        text.contains("See attached 11.") && text.contains("sluice-gate-survey-11.pdf"),
        "{text}"
    );
    assert!(
        attached
            .metadata
            .iter()
            .any(|(k, v)| k == "labels" && v == "INBOX")
    );
    assert!(
        attached
            .metadata
            .iter()
            .any(|(k, v)| k == "thread_id" && v == &format!("19d{:013x}", START_MS + 9 * HOUR))
    );

    // Changes: new mail, a deletion, a message trashed, one labelled.
    {
        let mut m = fake.mail.lock().unwrap();
        m.add(msg(600, &["INBOX"]));
        m.delete(&id(3));
        m.label(&id(4), &["TRASH"], &["INBOX"]);
        m.label(&id(6), &["Label_2"], &[]);
    }
    let token = pages.last().unwrap().sync_token.clone();
    let pages = walk(&mut s, ListMode::Incremental, token).await;
    let mut changed = ids(&pages);
    changed.sort();
    let mut expect = vec![id(600), id(6)];
    expect.sort();
    assert_eq!(changed, expect);
    let mut deleted: Vec<String> = pages.iter().flat_map(|p| p.deleted.clone()).collect();
    deleted.sort();
    assert_eq!(deleted, vec![id(3), id(4)]);
    let after = pages.last().unwrap().sync_token.clone().unwrap();
    assert_eq!(after, fake.mail.lock().unwrap().history_id.to_string());

    // Nothing new: an empty history page still moves the token.
    let pages = walk(&mut s, ListMode::Incremental, Some(after.clone())).await;
    assert!(ids(&pages).is_empty() && pages[0].deleted.is_empty());

    // A history id Gmail no longer keeps: 404, which is not-found to the host.
    fake.mail.lock().unwrap().oldest_history = u64::MAX;
    let req = ListRequest {
        mode: ListMode::Incremental,
        cursor: None,
        sync_token: Some(after),
        modified_after: None,
        page_size: 100,
    };
    let err = s.list(&req).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::NotFound(m)) if m.contains("full walk")),
        "{err:?}"
    );

    // 429 rateLimitExceeded is a rate limit.
    fake.mail.lock().unwrap().rate_limit_next = 1;
    let full = ListRequest {
        mode: ListMode::Full,
        sync_token: None,
        ..req
    };
    let err = s.list(&full).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(_))),
        "{err:?}"
    );
    // messages.list and messages.get cost 5 units each, history.list 2, getProfile 1.
    assert!(fake.mail.lock().unwrap().units > 6 * 5 + 3 * 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_labels_query_and_dates_limit_the_walk() {
    let fake = setup().await;
    let mut s = fake
        .session(&[
            ("labels", "Label_2"),
            ("after", "2026-01-05"),
            ("before", "2026-01-10"),
            ("query", "from:Correspondent"),
        ])
        .await;
    let listed = ids(&walk(&mut s, ListMode::Full, None).await);
    // Hours 96..216 (Jan 5 to Jan 10), every fifth.
    let expect: Vec<String> = (96..216).rev().filter(|i| i % 5 == 0).map(id).collect();
    assert_eq!(listed, expect);

    let mut bad = fake.session(&[("after", "last tuesday")]).await;
    let err = bad.check().await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::InvalidConfig(m)) if m.contains("YYYY-MM-DD")),
        "{err:?}"
    );
}

/// A Pub/Sub push delivery for `email` at `history`.
pub fn push_body(email: &str, history: u64, message_id: &str) -> Vec<u8> {
    let data = STANDARD.encode(json!({"emailAddress": email, "historyId": history}).to_string());
    json!({"message": {"data": data, "messageId": message_id, "message_id": message_id,
        "publishTime": "2026-11-30T10:00:00.000Z"}, "subscription": "projects/rivers/subscriptions/gmail-push"})
    .to_string()
    .into_bytes()
}

fn request(query: &str, body: Vec<u8>, bearer: Option<&str>) -> WebhookRequest {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(b) = bearer {
        headers.push(("authorization".into(), format!("Bearer {b}")));
    }
    WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: query.into(),
        headers,
        body,
        subscription_secret: None,
    }
}

/// An ID token as Pub/Sub sends, signed with the test key.
fn id_token(key: &RsaPrivateKey, kid: &str, aud: &str, exp_s: i64) -> String {
    sign_rs256(
        key,
        &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
        &json!({"iss": "https://accounts.google.com", "aud": aud, "exp": exp_s, "iat": exp_s - 3600,
        "email": "push@rivers.iam.gserviceaccount.com", "email_verified": true, "sub": "1130"}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_push_is_verified_by_url_token_and_google_oidc() {
    let fake = setup().await;
    let services = fake.t.runtime.services();
    let mut s = fake.t.runtime.session("gmail", None).await.unwrap();

    // No token configured: nothing can be told from Google, everything is refused.
    let o = s
        .webhook(&request("token=abc", push_body(EMAIL, 9, "1"), None))
        .await
        .unwrap();
    assert!(!o.verified);

    services.set_secret("gmail", "push_token", "5b2f0c1e9d");
    let o = s
        .webhook(&request("token=guess", push_body(EMAIL, 9, "1"), None))
        .await
        .unwrap();
    assert!(!o.verified, "a wrong URL token");
    let o = s
        .webhook(&request(
            "token=5b2f0c1e9d",
            push_body("Ada@Example.com", 9, "2070443601311540"),
            None,
        ))
        .await
        .unwrap();
    assert!(o.verified && o.sync_requested);
    assert_eq!(
        o.account_id.as_deref(),
        Some(EMAIL),
        "routed by the lower-cased address"
    );
    assert_eq!(o.delivery_id.as_deref(), Some("2070443601311540"));
    let garbage = s
        .webhook(&request(
            "token=5b2f0c1e9d",
            b"{\"message\":{}}".to_vec(),
            None,
        ))
        .await;
    assert!(
        matches!(
            garbage,
            Err(CallError::Plugin(PluginError::InvalidInput(_)))
        ),
        "{garbage:?}"
    );

    // With an audience set, the bearer token must be Google's, for that audience, unexpired.
    let key = RsaPrivateKey::from_pkcs1_pem(include_str!("push_key.pem")).unwrap();
    let mut other = rs256_jwk(&key, "other");
    other["n"] = other["e"].clone();
    fake.mail.lock().unwrap().certs = json!({"keys": [other, rs256_jwk(&key, "k1")]});
    services.set_secret("gmail", "push_audience", "https://tributary.example/gmail");
    services.set_secret(
        "gmail",
        "push_service_account",
        "push@rivers.iam.gserviceaccount.com",
    );
    let now = tributary::db::now_ms() / 1000;
    let good = id_token(&key, "k1", "https://tributary.example/gmail", now + 3600);
    let push = |bearer: Option<String>| {
        request("token=5b2f0c1e9d", push_body(EMAIL, 10, "77"), None).with_bearer(bearer)
    };
    assert!(s.webhook(&push(Some(good.clone()))).await.unwrap().verified);
    assert!(
        !s.webhook(&push(None)).await.unwrap().verified,
        "no bearer token"
    );
    let elsewhere = id_token(&key, "k1", "https://attacker.example", now + 3600);
    assert!(
        !s.webhook(&push(Some(elsewhere))).await.unwrap().verified,
        "another audience"
    );
    let stale = id_token(&key, "k1", "https://tributary.example/gmail", now - 3600);
    assert!(
        !s.webhook(&push(Some(stale))).await.unwrap().verified,
        "expired"
    );
    let (h, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged_claims = URL_SAFE_NO_PAD.encode(
        json!({"iss": "https://accounts.google.com", "aud": "https://tributary.example/gmail", "exp": now + 7200,
            "email": "push@rivers.iam.gserviceaccount.com", "email_verified": true}).to_string(),
    );
    let forged = format!("{h}.{forged_claims}.{sig}");
    assert!(
        !s.webhook(&push(Some(forged))).await.unwrap().verified,
        "claims changed under a signature"
    );
}

trait WithBearer {
    fn with_bearer(self, bearer: Option<String>) -> Self;
}

impl WithBearer for WebhookRequest {
    fn with_bearer(mut self, bearer: Option<String>) -> Self {
        if let Some(b) = bearer {
            self.headers
                .push(("authorization".into(), format!("Bearer {b}")));
        }
        self
    }
}
