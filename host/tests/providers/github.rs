//! The GitHub plugin (the real `.wasm`) against the fake GitHub Enterprise Server behind
//! the admin's base-URL override (`https://api.github.com` → `<fake>/api/v3`): three
//! configured repositories (one gone: 404), 501 resources walked in pages that follow
//! `Link` to `/repositories/<id>/…`, documents downloaded by the host and a binary one
//! skipped with its type, issues and pull requests with their discussions; an
//! incremental walk answered by 304s that spends no budget; changes and deletions; the
//! primary and secondary rate limits; GitHub's documented signature example.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tributary::credentials::{Credential, Kind};
use tributary::model::{Body, ListMode, Page, PluginError, WebhookRequest};
use tributary::runtime::{CallError, Integration, Limits, Session};

use crate::common::*;
use crate::gdrive::walk;
use crate::github_fake::{self, GitHub, TOKEN};
use crate::slack::text;

/// The issue whose comment the search tests look for.
pub const FERRY: &str = "rivers/levees/issues/42";

/// Two repositories, 501 resources: `rivers/levees` (260 issues, every fourth a pull
/// request, comments on every tenth, a review comment; 35 documents among source files,
/// one of them a PNG; 5 releases) and `rivers/gauges` (200 issues, a README).
pub fn fixture() -> GitHub {
    let mut g = GitHub::new(TOKEN);
    let levees = g.repo("Rivers/Levees");
    levees.files.insert(
        "README.md".into(),
        b"# Levees\nHow the levee network is built and inspected.".to_vec(),
    );
    levees.files.insert(
        "docs/guide.md".into(),
        b"# Guide\nWalk the crest every spring.".to_vec(),
    );
    levees.files.insert(
        "docs/ops/runbook.md".into(),
        b"# Runbook\nClose the tide gates when the gauge passes four metres.".to_vec(),
    );
    levees.files.insert(
        "docs/img/map.png".into(),
        vec![0x89, b'P', b'N', b'G', 0, 0, 0, 13],
    );
    levees.files.insert(
        "docs/index.html".into(),
        b"<html><body><h1>Levee atlas</h1><p>Maps of every dyke.</p></body></html>".to_vec(),
    );
    levees
        .files
        .insert("src/main.rs".into(), b"fn main() {}".to_vec());
    for i in 0..30 {
        levees.files.insert(
            format!("docs/notes/note-{i}.md"),
            format!("Inspection note {i}: crest intact").into_bytes(),
        );
    }
    for n in 1..=260u64 {
        let pull = n % 4 == 0;
        let title = if pull {
            format!("Reinforce section {n}")
        } else {
            format!("Seepage report {n}")
        };
        levees.issue(
            n,
            pull,
            &title,
            &format!("Observed near marker {n}."),
            "grace",
            n,
        );
        if n % 10 == 2 {
            let words = if n == 42 {
                "The ferry can carry forty pallets of sandbags across the estuary"
            } else {
                "Checked, no change"
            };
            levees.comment(n, "katherine", words, 300 + n);
            levees.comment(n, "ada", "Thanks", 301 + n);
        }
    }
    levees.review_comment(
        4,
        "katherine",
        "src/gate.rs",
        "The hinge torque needs a second bolt",
        900,
    );
    for r in 1..=5u64 {
        levees.releases.push(json!({"id": 70 + r, "tag_name": format!("v1.{r}.0"), "name": format!("Spring {r}"),
            "body": format!("Release notes {r}: new gauge calibration"), "draft": false, "prerelease": false,
            "created_at": github_fake::at(r), "published_at": github_fake::at(r + 1),
            "author": {"login": "ada"}, "html_url": format!("https://ghe.rivers.test/Rivers/Levees/releases/tag/v1.{r}.0")}));
    }
    let gauges = g.repo("rivers/gauges");
    gauges.files.insert(
        "README.md".into(),
        b"# Gauges\nTelemetry of river gauges.".to_vec(),
    );
    for n in 1..=200u64 {
        gauges.issue(
            n,
            false,
            &format!("Gauge {n} drifts"),
            "Reading off by 2 cm",
            "katherine",
            2000 + n,
        );
    }
    g
}

/// The repositories Ada chose, one of which GitHub no longer has.
pub fn config() -> Vec<(String, String)> {
    vec![(
        "repos".into(),
        "rivers/levees, Rivers/Gauges, rivers/ghost".into(),
    )]
}

pub struct Fake {
    pub github: Arc<Mutex<GitHub>>,
    pub t: TestHost,
}

/// The host with the GitHub plugin, its API overridden to the fake's `/api/v3`.
pub async fn setup() -> Fake {
    let github = Arc::new(Mutex::new(fixture()));
    let addr = serve(github_fake::router(github.clone())).await;
    let t = host(None, &["github"], Limits::default(), true).await;
    let mut settings = tributary::services::ProviderSettings::default();
    settings.base_urls.insert(
        "https://api.github.com".into(),
        format!("http://{addr}/api/v3"),
    );
    settings.rate_limits = Some(tributary::services::RateLimitOverride {
        requests_per_minute: 60_000,
        requests_per_day: None,
        concurrency: 4,
    });
    t.runtime
        .services()
        .set_settings("github", settings)
        .await
        .unwrap();
    t.credentials.set(
        "gh-1",
        Credential {
            kind: Kind::Oauth2,
            secret: TOKEN.into(),
            username: None,
            scopes: vec![],
            expires_at: None,
        },
    );
    Fake { github, t }
}

impl Fake {
    pub async fn session(&self) -> Session {
        self.t
            .runtime
            .session("github", Some(Integration::new("gh-1", config())))
            .await
            .unwrap()
    }
}

fn ids(pages: &[Page]) -> Vec<String> {
    let mut v: Vec<String> = pages
        .iter()
        .flat_map(|p| p.resources.iter().map(|r| r.id.clone()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_github_walks_repositories_then_only_changes() {
    let fake = setup().await;
    let mut s = fake.session().await;
    let account = s.check().await.unwrap();
    assert_eq!(
        (account.id.as_str(), account.name.as_str()),
        ("7", "Ada Lovelace")
    );

    let pages = walk(&mut s, ListMode::Full, None).await;
    let all: Vec<_> = pages.iter().flat_map(|p| p.resources.iter()).collect();
    assert_eq!(
        all.len(),
        501,
        "{:?}",
        ids(&pages)
            .iter()
            .filter(|i| !i.contains("/issues/") && !i.contains("/pull/"))
            .collect::<Vec<_>>()
    );
    assert!(
        !all.iter()
            .any(|r| r.id.contains("ghost") || r.id.ends_with("main.rs"))
    );
    let calls = fake.github.lock().unwrap().calls.clone();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("GET /repositories/1296269/issues?")),
        "Link pages followed: {calls:?}"
    );
    assert!(
        calls.iter().any(|c| c == "GET /repos/rivers/ghost"),
        "{calls:?}"
    );
    // Documents: downloaded by the host with GitHub's raw media type; the PNG listed
    // with its type so the host records why it is not indexed.
    let runbook = all
        .iter()
        .find(|r| r.id == "rivers/levees/blob/docs/ops/runbook.md")
        .unwrap();
    let c = runbook.content.as_ref().unwrap();
    // The runtime hands the listing on with the host's download done: the raw file,
    // fetched through the override with GitHub's raw media type.
    let Body::Bytes(bytes) = &c.body else {
        panic!("{:?}", c.body)
    };
    assert!(String::from_utf8_lossy(bytes).contains("Close the tide gates"));
    let calls = fake.github.lock().unwrap().calls.clone();
    assert!(
        calls.contains(
            &"GET /repos/rivers/levees/contents/docs/ops/runbook.md?ref=main".to_string()
        ),
        "{calls:?}"
    );
    assert_eq!(c.mime_type, "text/markdown");
    let png = all
        .iter()
        .find(|r| r.id == "rivers/levees/blob/docs/img/map.png")
        .unwrap();
    assert_eq!(png.content.as_ref().unwrap().mime_type, "image/png");
    let pulls = all.iter().filter(|r| r.kind == "pull_request").count();
    assert_eq!(pulls, 65);
    let release = all
        .iter()
        .find(|r| r.id == "rivers/levees/releases/73")
        .unwrap();
    assert!(text(release.content.as_ref().unwrap()).contains("new gauge calibration"));

    let issue = s.fetch(FERRY).await.unwrap();
    assert_eq!(issue.title, "rivers/levees#42: Seepage report 42");
    let body = text(&issue);
    assert!(
        body.contains("forty pallets of sandbags") && body.contains("katherine"),
        "{body}"
    );
    let pull = s.fetch("rivers/levees/pull/4").await.unwrap();
    assert_eq!(pull.kind, "pull_request");
    assert!(text(&pull).contains("on src/gate.rs: The hinge torque needs a second bolt"));
    // An issue number asked for as a pull request is not one.
    let err = s.fetch("rivers/levees/pull/42").await.unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::NotFound(_))),
        "{err:?}"
    );

    // Ids that would walk out of the repository are refused before any request.
    let before = fake.github.lock().unwrap().calls.len();
    for bad in [
        "rivers/levees/blob/../../../user",
        "rivers/../issues/1",
        "rivers/levees/issues/..",
        "rivers/levees/blob/docs//x.md",
    ] {
        let err = s.fetch(bad).await.unwrap_err();
        assert!(
            matches!(err, CallError::Plugin(PluginError::InvalidInput(_))),
            "{bad}: {err:?}"
        );
    }
    assert_eq!(fake.github.lock().unwrap().calls.len(), before);

    // Nothing changed. The first incremental walk keeps the issue listing's ETag (full
    // walks do not keep issue pages); from then on every listing answers 304, nothing
    // is listed, no budget is spent.
    let primed = walk(
        &mut s,
        ListMode::Incremental,
        pages.last().unwrap().sync_token.clone(),
    )
    .await;
    assert!(
        primed.iter().all(|p| p.resources.is_empty()),
        "{:?}",
        ids(&primed)
    );
    let token = primed.last().unwrap().sync_token.clone();
    let (budget, free) = {
        let g = fake.github.lock().unwrap();
        (g.remaining, g.not_modified)
    };
    let quiet = walk(&mut s, ListMode::Incremental, token).await;
    assert!(
        quiet
            .iter()
            .all(|p| p.resources.is_empty() && p.deleted.is_empty()),
        "{:?}",
        ids(&quiet)
    );
    {
        let g = fake.github.lock().unwrap();
        assert_eq!(g.remaining, budget, "304s are free");
        assert_eq!(
            g.not_modified - free,
            8,
            "repo, tree, issues, releases of two repositories"
        );
        assert!(
            !g.calls.iter().rev().take(8).any(|c| c.contains("ghost")),
            "the 404 one is not asked again"
        );
    }

    // A comment, a new issue, an edited README and a removed note.
    {
        let mut g = fake.github.lock().unwrap();
        let r = g.repo("rivers/levees");
        r.comment(7, "ada", "Dredging finished upstream", 5000);
        r.issue(261, false, "Culvert blocked", "Driftwood", "ada", 5001);
        r.files.insert(
            "README.md".into(),
            b"# Levees\nNow with flood walls.".to_vec(),
        );
        r.files.remove("docs/notes/note-3.md");
    }
    let inc = walk(
        &mut s,
        ListMode::Incremental,
        quiet.last().unwrap().sync_token.clone(),
    )
    .await;
    let changed = ids(&inc);
    assert!(
        changed.contains(&"rivers/levees/issues/7".to_string()),
        "{changed:?}"
    );
    assert!(changed.contains(&"rivers/levees/issues/261".to_string()));
    assert!(changed.contains(&"rivers/levees/blob/README.md".to_string()));
    assert!(
        changed.len() < 60,
        "only what changed since: {}",
        changed.len()
    );
    let deleted: Vec<_> = inc.iter().flat_map(|p| p.deleted.iter()).collect();
    assert_eq!(deleted, vec!["rivers/levees/blob/docs/notes/note-3.md"]);

    // The primary limit: 403 with nothing remaining waits until the reset.
    {
        let mut g = fake.github.lock().unwrap();
        g.remaining = 0;
        g.reset = tributary::db::now_ms() / 1000 + 30;
    }
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(r)) if r.retry_after_ms.is_some_and(|w| (25_000..=31_000).contains(&w))),
        "{err:?}"
    );
    // A secondary limit: 403 with `retry-after`.
    {
        let mut g = fake.github.lock().unwrap();
        g.remaining = 4000;
        g.secondary_next = 1;
    }
    let err = s.list(&full(100)).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::RateLimited(r)) if r.retry_after_ms == Some(3000)),
        "{err:?}"
    );
    // Bad credentials: the host tries a refresh on the 401 (an OAuth-app token has
    // none) and the call is unauthorized.
    fake.github.lock().unwrap().token = "gho_other".into();
    let err = s.check().await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::Unauthorized(_))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_delivery_is_signed_as_githubs_documented_example() {
    let fake = setup().await;
    let mut s = fake.session().await;
    let req = |secret: &str, body: &[u8], sig: &str| WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: vec![
            ("X-Hub-Signature-256".into(), sig.into()),
            ("X-GitHub-Event".into(), "ping".into()),
            (
                "X-GitHub-Delivery".into(),
                "72d3162e-cc78-11e3-81ab-4c9367dc0958".into(),
            ),
        ],
        body: body.to_vec(),
        subscription_secret: Some(secret.into()),
    };
    let vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    // The documented pair verifies (and then is no JSON delivery); one byte off does not.
    let err = s
        .webhook(&req("It's a Secret to Everybody", b"Hello, World!", vector))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Plugin(PluginError::InvalidInput(_))),
        "{err:?}"
    );
    let out = s
        .webhook(&req("It's a Secret to Everybody", b"Hello, World?", vector))
        .await
        .unwrap();
    assert!(!out.verified);
    let out = s
        .webhook(&req("It's a secret to everybody", b"Hello, World!", vector))
        .await
        .unwrap();
    assert!(!out.verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_an_oauth_token_would_go_to_a_server_named_in_config() {
    let github = Arc::new(Mutex::new(fixture()));
    let addr = serve(github_fake::router(github.clone())).await;
    let t = host(None, &["github"], Limits::default(), true).await;
    let config = vec![("api_url".to_string(), format!("http://{addr}/api/v3"))];
    let token = |kind| Credential {
        kind,
        secret: TOKEN.into(),
        username: None,
        scopes: vec![],
        expires_at: None,
    };
    // Whoever may edit the config must not be able to send the OAuth token elsewhere.
    t.credentials.set("gh-oauth", token(Kind::Oauth2));
    let mut s = t
        .runtime
        .session("github", Some(Integration::new("gh-oauth", config.clone())))
        .await
        .unwrap();
    let err = s.check().await.unwrap_err();
    assert!(
        matches!(&err, CallError::Plugin(PluginError::Forbidden(m)) if m.contains("named in the integration's config")),
        "{err:?}"
    );
    assert!(github.lock().unwrap().calls.is_empty(), "nothing was sent");
    // A token the user made for that server goes there.
    t.credentials.set("gh-pat", token(Kind::ApiKey));
    let mut s = t
        .runtime
        .session("github", Some(Integration::new("gh-pat", config)))
        .await
        .unwrap();
    assert_eq!(s.check().await.unwrap().id, "7");
}
