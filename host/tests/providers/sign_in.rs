//! Signing in over HTTP: passwords and session cookies (flags, CSRF on writes, sign-out,
//! expiry, throttling, nothing usable in the database), one-time links, bearer JWTs
//! from a configured issuer, and organization members managed by owners only.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::*;

pub const PASSWORD: &str = "correct horse battery";

/// A user who can sign in with [`PASSWORD`].
pub async fn user_with_password(
    db: &tributary::db::Db,
    email: &str,
    admin: bool,
) -> tributary::db::User {
    let u = db.create_user(email, admin).await.unwrap();
    let phc = tributary::api::session::hash_password(PASSWORD).unwrap();
    db.set_password_hash(&u.id, Some(&phc)).await.unwrap();
    u
}

/// `POST /api/auth/login`: status, headers, body.
pub async fn login(base: &str, email: &str, password: &str) -> (StatusCode, HeaderMap, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

/// The `name=value` pair of a response's session cookie.
pub fn session_cookie(headers: &HeaderMap) -> (String, String) {
    let set = headers
        .get(SET_COOKIE)
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    let pair = set.split(';').next().unwrap().to_string();
    (pair, set)
}

async fn call(
    method: reqwest::Method,
    url: String,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .header("cookie", cookie);
    if let Some(c) = csrf {
        req = req.header("x-csrf-token", c);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `GET /api/auth/session` with a cookie.
async fn session_of(base: &str, cookie: &str) -> (StatusCode, Value) {
    call(
        reqwest::Method::GET,
        format!("{base}/api/auth/session"),
        cookie,
        None,
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_password_opens_a_session_whose_writes_need_the_csrf_token() {
    let s = serve_host(None, &["substack"], true).await;
    let db = s.state.db().clone();
    let ada = user_with_password(&db, "ada@t.test", false).await;

    // Wrong password and unknown email: the same answer.
    let (st, _, body) = login(&s.base, "ada@t.test", "wrong password!").await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    let (st, _, nobody) = login(&s.base, "nobody@t.test", PASSWORD).await;
    assert_eq!((st, &nobody), (StatusCode::UNAUTHORIZED, &body));

    // What a cross-site form can send (text/plain) signs nobody in.
    let form = reqwest::Client::new()
        .post(format!("{}/api/auth/login", s.base))
        .header("content-type", "text/plain")
        .body(json!({"email": "ada@t.test", "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    assert!(form.headers().get(SET_COOKIE).is_none());

    let (st, headers, body) = login(&s.base, "ADA@t.test", PASSWORD).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (cookie, set) = session_cookie(&headers);
    assert!(cookie.starts_with("trb_session="), "{set}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    assert!(!set.contains("Secure"), "plain http here: {set}");
    assert_eq!(body["user"]["email"], "ada@t.test");
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    // The database keeps only the cookie's hash.
    let value = cookie.split_once('=').unwrap().1;
    let stored: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM sessions")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(stored, vec![tributary::db::hash_key(value)]);

    let (st, me) = session_of(&s.base, &cookie).await;
    assert_eq!(
        (st, me["csrf_token"].as_str()),
        (StatusCode::OK, Some(csrf.as_str()))
    );
    let connect = format!("{}/api/integrations/substack/connect", s.base);
    let feed = json!({"config": {"feed_url": "http://127.0.0.1:9/feed"}});
    for bad in [None, Some("0000")] {
        let (st, body) = call(
            reqwest::Method::POST,
            connect.clone(),
            &cookie,
            bad,
            Some(feed.clone()),
        )
        .await;
        assert_eq!(
            (st, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("csrf")),
            "{bad:?}"
        );
    }
    assert!(
        db.integrations(&tributary::db::Owner::User(ada.id.clone()))
            .await
            .unwrap()
            .is_empty()
    );
    // With the token the write goes through (the plugin's check then fails on the dead feed).
    let (st, body) = call(
        reqwest::Method::POST,
        connect,
        &cookie,
        Some(&csrf),
        Some(feed),
    )
    .await;
    assert_ne!(st, StatusCode::FORBIDDEN, "{body}");
    let (st, _) = call(
        reqwest::Method::GET,
        format!("{}/api/integrations/connected", s.base),
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK);

    // Sign-out needs the token too, ends the session and clears the cookie.
    let logout = format!("{}/api/auth/logout", s.base);
    let (st, _) = call(reqwest::Method::POST, logout.clone(), &cookie, None, None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let resp = reqwest::Client::new()
        .post(&logout)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(
        resp.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (st, body) = session_of(&s.base, &cookie).await;
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );

    // An expired session opens nothing.
    let (old, _) = db
        .create_session(&ada.id, tributary::db::now_ms() - 1)
        .await
        .unwrap();
    let (st, _) = session_of(&s.base, &format!("trb_session={old}")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Guessing is throttled per email: ten tries a minute.
    let mut last = StatusCode::OK;
    for _ in 0..11 {
        last = login(&s.base, "ada@t.test", "guess guess guess").await.0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_every_response_carries_the_security_headers() {
    let s = serve_host(None, &[], true).await;
    for path in [
        "/",
        "/ui/main.js",
        "/api/auth/session",
        "/api/openapi.json",
        "/nowhere",
    ] {
        let resp = reqwest::get(format!("{}{path}", s.base)).await.unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
    }
    let page = reqwest::get(format!("{}/", s.base)).await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let js = reqwest::get(format!("{}/ui/dom.js", s.base)).await.unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_sign_in_link_is_spent_once() {
    let s = serve_host(None, &[], true).await;
    let db = s.state.db().clone();
    let u = db.create_user("lin@t.test", false).await.unwrap();
    let now = tributary::db::now_ms();
    let token = db.create_sign_in_link(&u.id, now + 60_000).await.unwrap();
    let spend = |t: String| {
        let base = s.base.clone();
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{base}/api/auth/link"))
                .json(&json!({"token": t}))
                .send()
                .await
                .unwrap();
            (resp.status(), resp.headers().clone())
        }
    };
    let (st, headers) = spend(token.clone()).await;
    assert_eq!(st, StatusCode::OK);
    let (cookie, _) = session_cookie(&headers);
    let (st, me) = session_of(&s.base, &cookie).await;
    assert_eq!(
        (st, me["user"]["email"].as_str()),
        (StatusCode::OK, Some("lin@t.test"))
    );
    assert_eq!(
        spend(token).await.0,
        StatusCode::UNAUTHORIZED,
        "a link works once"
    );
    let stale = db.create_sign_in_link(&u.id, now - 1).await.unwrap();
    assert_eq!(
        spend(stale).await.0,
        StatusCode::UNAUTHORIZED,
        "an expired link"
    );
    assert_eq!(
        spend("zz".into()).await.0,
        StatusCode::UNAUTHORIZED,
        "not a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_owners_manage_members_and_members_only_look() {
    let s = serve_host(None, &[], true).await;
    let db = s.state.db().clone();
    let (olga, okey) = user_with_key(&db, "olga@t.test", false).await;
    let (bob, bkey) = user_with_key(&db, "bob@t.test", false).await;
    let (_, skey) = user_with_key(&db, "stranger@t.test", false).await;
    db.create_user("carol@t.test", false).await.unwrap();
    let org = db.create_org("acme", &olga).await.unwrap();
    db.set_member(&org, &bob, tributary::db::Role::Member)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let members = format!("{}/api/organizations/acme/members", s.base);

    let mine = get_json(&format!("{}/api/organizations", s.base), &bkey).await;
    assert_eq!(mine["organizations"][0]["slug"], "acme");
    assert_eq!(mine["organizations"][0]["role"], "member");
    let list = get_json(&members, &bkey).await;
    assert_eq!(list["members"].as_array().unwrap().len(), 2);
    let add_carol = json!({"email": "carol@t.test", "role": "admin"});
    let resp = http
        .put(&members)
        .bearer_auth(&bkey)
        .json(&add_carol)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::FORBIDDEN,
        "members do not manage members"
    );
    assert_eq!(
        http.get(&members)
            .bearer_auth(&skey)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    let list: Value = http
        .put(&members)
        .bearer_auth(&okey)
        .json(&add_carol)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let carol = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "carol@t.test")
        .unwrap()
        .clone();
    assert_eq!(carol["role"], "admin");
    let demote = http
        .put(&members)
        .bearer_auth(&okey)
        .json(&json!({"email": "olga@t.test", "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        demote.status(),
        StatusCode::CONFLICT,
        "the last owner stays"
    );
    let unknown = http
        .put(&members)
        .bearer_auth(&okey)
        .json(&json!({"email": "who@t.test", "role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let gone = http
        .delete(format!("{members}/{}", carol["user_id"].as_str().unwrap()))
        .bearer_auth(&okey)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let list = get_json(&members, &okey).await;
    assert_eq!(list["members"].as_array().unwrap().len(), 2);
}

/// Run the `tributary` binary over `dir` with `stdin`; its standard output.
fn tributary(dir: &std::path::Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("TRIBUTARY_PUBLIC_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tributary {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_cli_prints_a_sign_in_link_and_sets_passwords() {
    let s = serve_host(None, &[], true).await;
    let dir = s.dir.path().to_path_buf();
    let base = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        tributary(
            &dir,
            &[
                "users",
                "create",
                "--email",
                "New@T.test",
                "--admin",
                "--public-url",
                &base,
            ],
            "",
        )
    })
    .await
    .unwrap();
    let link = out
        .lines()
        .find(|l| l.contains("/#/link/"))
        .unwrap_or_else(|| panic!("no link in {out}"));
    assert!(link.starts_with(&format!("{}/#/link/", s.base)), "{link}");
    let token = link.rsplit('/').next().unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/api/auth/link", s.base))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let me: Value = resp.json().await.unwrap();
    assert_eq!(
        (
            me["user"]["email"].as_str(),
            me["user"]["is_admin"].as_bool()
        ),
        (Some("new@t.test"), Some(true))
    );

    // A password from stdin: too short is refused, a good one signs in.
    let dir = s.dir.path().to_path_buf();
    let short = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .arg("--data-dir")
            .arg(&dir)
            .args(["users", "set-password", "--email", "new@t.test"])
            .env_remove("DATABASE_URL")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!short.status.success(), "an empty password is refused");
    let dir = s.dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        tributary(
            &dir,
            &["users", "set-password", "--email", "new@t.test"],
            "a long passphrase\n",
        )
    })
    .await
    .unwrap();
    assert_eq!(
        login(&s.base, "new@t.test", "a long passphrase").await.0,
        StatusCode::OK
    );
    let dir = s.dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        tributary(
            &dir,
            &[
                "users",
                "create",
                "--email",
                "pw@t.test",
                "--password-stdin",
            ],
            "another passphrase\n",
        )
    })
    .await
    .unwrap();
    assert_eq!(
        login(&s.base, "pw@t.test", "another passphrase").await.0,
        StatusCode::OK
    );
}
