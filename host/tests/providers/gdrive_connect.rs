//! Google Drive as a user meets it: an admin sets the OAuth client, a user connects (PKCE,
//! offline access, consent, Google's token answers), the host opens a push channel to its
//! callback URL, a notification brings one file's change into the index, an expired
//! access token is refreshed (Google returns no new refresh token), and disconnecting stops
//! the channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tributary::db::{Owner, status};
use tributary::sync::{EngineConfig, Outcome, SyncEngine};

use crate::common::*;
use crate::drive_fake;
use crate::gdrive::fixture;

const CLIENT_ID: &str = "1234-abc.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-never-in-clear";
const SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";

#[derive(Default)]
struct Oauth {
    codes: HashMap<String, (String, String)>,
    refresh: Vec<String>,
    refresh_grants: usize,
    n: usize,
}

#[derive(Clone)]
struct Google {
    oauth: Arc<Mutex<Oauth>>,
    drive: drive_fake::Shared,
}

async fn authorize(State(g): State<Google>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline", "no refresh token without it");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["scope"], SCOPE);
    let code = format!("4/0Ab{}", uuid::Uuid::new_v4().simple());
    let pending = (q["code_challenge"].clone(), q["redirect_uri"].clone());
    g.oauth.lock().unwrap().codes.insert(code.clone(), pending);
    Redirect::to(&format!(
        "{}?state={}&code={code}&scope={SCOPE}",
        q["redirect_uri"], q["state"]
    ))
    .into_response()
}

fn invalid_grant(why: &str) -> Response {
    let body = json!({"error": "invalid_grant", "error_description": why});
    (axum::http::StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Google's token endpoint: client credentials in the form, PKCE checked, a refresh
/// token only from the code exchange.
async fn token(State(g): State<Google>, Form(form): Form<HashMap<String, String>>) -> Response {
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        let body = json!({"error": "invalid_client", "error_description": "The OAuth client was not found."});
        return (axum::http::StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let mut o = g.oauth.lock().unwrap();
    o.n += 1;
    let access = format!("ya29.a0-{}", o.n);
    let mut answer =
        json!({"access_token": access, "expires_in": 3599, "scope": SCOPE, "token_type": "Bearer"});
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((challenge, redirect)) = o.codes.remove(&form["code"]) else {
                return invalid_grant("Bad Request");
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            if computed != challenge || form.get("redirect_uri") != Some(&redirect) {
                return invalid_grant("Missing code verifier.");
            }
            let refresh = format!("1//0g-{}", uuid::Uuid::new_v4().simple());
            o.refresh.push(refresh.clone());
            answer["refresh_token"] = json!(refresh);
        }
        Some("refresh_token") => {
            if !o.refresh.contains(&form["refresh_token"]) {
                return invalid_grant("Token has been expired or revoked.");
            }
            o.refresh_grants += 1;
        }
        _ => return invalid_grant("unsupported grant"),
    }
    g.drive.lock().unwrap().access_token = access;
    Json(answer).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_user_connects_drive_gets_pushed_changes_and_a_refreshed_token() {
    let drive: drive_fake::Shared = Arc::new(Mutex::new(fixture()));
    drive.lock().unwrap().access_token = "not-issued-yet".into();
    let google = Google {
        oauth: Arc::default(),
        drive: drive.clone(),
    };
    let oauth = Router::new()
        .route("/o/oauth2/v2/auth", get(authorize))
        .route("/token", post(token))
        .with_state(google.clone());
    let fake = format!(
        "http://{}",
        serve(drive_fake::router(drive.clone()).merge(oauth)).await
    );

    let s = serve_host(None, &["gdrive"], true).await;
    let db = s.state.db().clone();
    let (_, root) = user_with_key(&db, "root@t.test", true).await;
    let (ada, key) = user_with_key(&db, "ada@t.test", false).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let admin = |path: &str, body: Value| {
        http.put(format!("{}/api/admin/providers/gdrive/{path}", s.base))
            .bearer_auth(&root)
            .json(&body)
            .send()
    };
    let urls = json!({"base_urls": {"https://accounts.google.com": fake, "https://oauth2.googleapis.com": fake,
        "https://www.googleapis.com": fake}});
    assert_eq!(admin("settings", urls).await.unwrap().status(), 200);
    let client = json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});
    assert_eq!(admin("oauth", client).await.unwrap().status(), 200);

    // Connect: the consent screen approves at once and sends the browser back.
    let resp = http
        .post(format!("{}/api/integrations/gdrive/connect", s.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let auth_url = resp.json::<Value>().await.unwrap()["auth_url"]
        .as_str()
        .unwrap()
        .to_string();
    // Google's authorize endpoint, behind the admin's base-URL override here.
    assert!(auth_url.contains("/o/oauth2/v2/auth?"), "{auth_url}");
    let approve = http
        .get(auth_url.replace("https://accounts.google.com", &fake))
        .send()
        .await
        .unwrap();
    let back = approve.headers()["location"].to_str().unwrap().to_string();
    let done = http.get(&back).send().await.unwrap();
    let to = done.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("status=connected"), "{to}");
    let row = db
        .integration(&Owner::User(ada.id.clone()), "gdrive")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status.as_str(), row.account_name.as_deref()),
        (status::ACTIVE, Some("Ada Lovelace"))
    );

    // The host opened a channel to its own callback URL for this integration.
    let watch = drive.lock().unwrap().channels[0].clone();
    let address = watch["request"]["address"].as_str().unwrap().to_string();
    assert_eq!(
        address,
        format!("{}/api/webhooks/integrations/gdrive/{}", s.base, row.id)
    );
    let channel_token = watch["request"]["token"].as_str().unwrap().to_string();
    let channel_id = watch["request"]["id"].as_str().unwrap().to_string();

    let engine = SyncEngine::new(
        s.state.runtime.clone(),
        s.state.ingest.clone(),
        EngineConfig::default(),
    );
    let run_all = async || {
        let mut outcomes = Vec::new();
        while let Some((_, o)) = engine.run_once().await.unwrap() {
            outcomes.push(o);
        }
        outcomes
    };
    let (job, _) = db
        .request_sync(&row.id, "gdrive", "full", "manual")
        .await
        .unwrap();
    assert!(run_all().await.contains(&Outcome::Completed));
    assert_eq!(
        db.sync_job(&job.id).await.unwrap().unwrap().status,
        "COMPLETED"
    );
    assert_eq!(held(&db, &row.id).await.len(), 537);

    // A push: one file changed at Google, the notification arrives, the index follows.
    {
        let mut d = drive.lock().unwrap();
        let mut f = d.files["file-006"].clone();
        f.body = b"Sediment budget for the lower estuary".to_vec();
        d.put(f);
    }
    let notify = |token: &str, number: &str| {
        http.post(&address)
            .header("X-Goog-Channel-ID", &channel_id)
            .header("X-Goog-Channel-Token", token)
            .header("X-Goog-Message-Number", number)
            .header("X-Goog-Resource-ID", "res-changes-1")
            .header("X-Goog-Resource-State", "change")
            .header(
                "X-Goog-Resource-URI",
                "https://www.googleapis.com/drive/v3/changes",
            )
            .body(r#"{"kind":"drive#changes"}"#)
            .send()
    };
    assert_eq!(
        notify("a-guess", "2").await.unwrap().status(),
        401,
        "a forged notification"
    );
    assert_eq!(notify(&channel_token, "2").await.unwrap().status(), 200);
    let again = notify(&channel_token, "2").await.unwrap();
    assert_eq!(
        again.json::<Value>().await.unwrap()["duplicate"],
        true,
        "Google's retry"
    );
    let fanout = tributary::webhooks::Fanout::new(db.clone(), &s.state.webhooks);
    assert_eq!(fanout.drain().await.unwrap().done, 1);
    assert!(run_all().await.contains(&Outcome::Completed));
    let found = search(&s.base, &key, "sediment budget estuary").await;
    assert_eq!(found["results"][0]["external_id"], "file-006", "{found}");

    // Google expired the access token: the host refreshes it (no new refresh token comes
    // back; the stored one stays) and the walk goes on.
    drive.lock().unwrap().access_token = "ya29.revoked-by-google".into();
    {
        let mut d = drive.lock().unwrap();
        let mut f = d.files["file-009"].clone();
        f.body = b"Tidal gauge calibration notes".to_vec();
        d.put(f);
    }
    db.request_sync(&row.id, "gdrive", "incremental", "manual")
        .await
        .unwrap();
    assert!(run_all().await.contains(&Outcome::Completed));
    assert_eq!(google.oauth.lock().unwrap().refresh_grants, 1);
    let found = search(&s.base, &key, "tidal gauge calibration").await;
    assert_eq!(found["results"][0]["external_id"], "file-009", "{found}");
    // Still the refresh token of the code exchange: a second refresh works too.
    drive.lock().unwrap().access_token = "ya29.revoked-again".into();
    db.request_sync(&row.id, "gdrive", "incremental", "manual")
        .await
        .unwrap();
    assert!(run_all().await.contains(&Outcome::Completed));
    assert_eq!(google.oauth.lock().unwrap().refresh_grants, 2);

    // Disconnect stops the channel at Google.
    let resp = http
        .delete(format!("{}/api/integrations/gdrive", s.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let stopped = drive.lock().unwrap().stopped.clone();
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0]["id"], channel_id.as_str());
}
