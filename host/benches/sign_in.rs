//! What signing in costs: a password sign-in (argon2id), and one authenticated request by
//! each way of calling — API key, session cookie, JWT — against a served host on loopback.
//! `cargo bench -p tributary --bench sign_in`; numbers in `docs/benchmarks.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use serde_json::json;

const N: usize = 400;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn timed(n: usize, mut f: impl AsyncFnMut() -> reqwest::StatusCode) -> (Duration, Duration) {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        assert!(f().await.is_success());
        all.push(t.elapsed());
    }
    let p95 = {
        let mut s = all.clone();
        s.sort();
        s[s.len() * 95 / 100]
    };
    (median(all), p95)
}

#[tokio::main]
async fn main() {
    let key =
        RsaPrivateKey::from_pkcs1_pem(include_str!("../tests/providers/push_key.pem")).unwrap();
    let jwks = json!({"keys": [common::rs256_jwk(&key, "k1")]});
    let router = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    let jwks_url = format!("http://{}/jwks", common::serve(router).await);
    let config = tributary::jwt::JwtConfig {
        jwks_url,
        issuer: "https://issuer.test".into(),
        audience: "tributary".into(),
        user_claim: "sub".into(),
        create_users: true,
    };
    let s = common::serve_host_tuned(None, &[], true, |c| c.jwt = Some(config)).await;
    let db = s.state.db().clone();
    let (user, api_key) = common::user_with_key(&db, "bench@t.test", false).await;
    let phc = tributary::api::session::hash_password("bench bench bench").unwrap();
    db.set_password_hash(&user.id, Some(&phc)).await.unwrap();
    let http = reqwest::Client::new();
    let session = format!("{}/api/auth/session", s.base);

    // Fewer sign-ins: each costs a full argon2id hash by design (and 10 a minute per email
    // pass the throttle, so each uses its own user).
    let mut emails = Vec::new();
    for i in 0..40 {
        let u = db
            .create_user(&format!("u{i}@t.test"), false)
            .await
            .unwrap();
        db.set_password_hash(&u.id, Some(&phc)).await.unwrap();
        emails.push(u.email);
    }
    let mut next = emails.into_iter();
    let login = timed(40, async || {
        let email = next.next().unwrap();
        http.post(format!("{}/api/auth/login", s.base))
            .json(&json!({"email": email, "password": "bench bench bench"}))
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;

    let resp = http
        .post(format!("{}/api/auth/login", s.base))
        .json(&json!({"email": "bench@t.test", "password": "bench bench bench"}))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let by_key = timed(N, async || {
        http.get(&session)
            .bearer_auth(&api_key)
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;
    let by_cookie = timed(N, async || {
        http.get(&session)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;
    let exp = tributary::db::now_ms() / 1000 + 3600;
    let jwt = common::sign_rs256(
        &key,
        &json!({"alg": "RS256", "kid": "k1"}),
        &json!({"sub": "u1", "iss": "https://issuer.test", "aud": "tributary", "exp": exp}),
    );
    let by_jwt = timed(N, async || {
        http.get(&session)
            .bearer_auth(&jwt)
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;
    let page = timed(N, async || {
        http.get(format!("{}/", s.base))
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;
    let assets: usize = tributary::ui::ASSETS.iter().map(|(_, _, b)| b.len()).sum();

    println!(
        "sign_in: password sign-in (argon2id)   median {:?}  p95 {:?}",
        login.0, login.1
    );
    println!(
        "sign_in: GET /api/auth/session, key   median {:?}  p95 {:?}",
        by_key.0, by_key.1
    );
    println!(
        "sign_in: GET /api/auth/session, cookie median {:?}  p95 {:?}",
        by_cookie.0, by_cookie.1
    );
    println!(
        "sign_in: GET /api/auth/session, JWT   median {:?}  p95 {:?}",
        by_jwt.0, by_jwt.1
    );
    println!(
        "sign_in: GET / (the UI page)          median {:?}  p95 {:?}",
        page.0, page.1
    );
    println!(
        "sign_in: embedded UI assets            {} files, {} bytes",
        tributary::ui::ASSETS.len(),
        assets
    );
}
