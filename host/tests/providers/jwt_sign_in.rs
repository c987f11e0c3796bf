//! Bearer JWTs from a product's own identity provider (Clerk-style): RS256 tokens checked
//! against a JWKS served on loopback, the issuer and the audience; the subject becomes a
//! user on first sight (when allowed) and the same user after; every forgery is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use serde_json::{Value, json};

use crate::common::*;

const ISS: &str = "https://clerk.rivers.test";
const AUD: &str = "tributary";

fn token(key: &RsaPrivateKey, header: Value, claims: Value) -> String {
    sign_rs256(key, &header, &claims)
}

fn claims(sub: &str, aud: &str, iss: &str, exp: i64) -> Value {
    json!({"sub": sub, "aud": aud, "iss": iss, "exp": exp, "iat": exp - 600, "email": "Grace@Rivers.test"})
}

async fn session(base: &str, bearer: &str) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{base}/api/auth/session"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn host_for(jwks: &str, create_users: bool) -> Served {
    let config = tributary::jwt::JwtConfig {
        jwks_url: jwks.into(),
        issuer: ISS.into(),
        audience: AUD.into(),
        user_claim: "sub".into(),
        create_users,
    };
    serve_host_tuned(None, &[], true, |c| c.jwt = Some(config)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_jwt_from_the_configured_issuer_maps_to_one_user() {
    let key = RsaPrivateKey::from_pkcs1_pem(include_str!("push_key.pem")).unwrap();
    let jwks = json!({"keys": [rs256_jwk(&key, "k1")]});
    let router = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || async move { axum::Json(jwks) }),
    );
    let jwks_url = format!("http://{}/.well-known/jwks.json", serve(router).await);
    let s = host_for(&jwks_url, true).await;
    let now = tributary::db::now_ms() / 1000;
    let rs256 = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});

    let good = token(
        &key,
        rs256.clone(),
        claims("user_2abc", AUD, ISS, now + 600),
    );
    let (st, me) = session(&s.base, &good).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["email"], "grace@rivers.test");
    assert!(me["csrf_token"].is_null(), "bearer callers have no session");
    let again = token(
        &key,
        rs256.clone(),
        claims("user_2abc", AUD, ISS, now + 900),
    );
    assert_eq!(
        session(&s.base, &again).await.1["user"]["id"],
        me["user"]["id"],
        "one user per subject"
    );
    // A second subject whose email is taken gets its own user, never the first one's.
    let other = token(
        &key,
        rs256.clone(),
        claims("user_9xyz", AUD, ISS, now + 600),
    );
    let (st, them) = session(&s.base, &other).await;
    assert_eq!(st, StatusCode::OK);
    assert_ne!(them["user"]["id"], me["user"]["id"]);
    assert!(
        them["user"]["email"]
            .as_str()
            .unwrap()
            .ends_with("@jwt.invalid"),
        "{them}"
    );

    let refused = [
        (
            "another audience",
            token(
                &key,
                rs256.clone(),
                claims("user_2abc", "someone-else", ISS, now + 600),
            ),
        ),
        (
            "another issuer",
            token(
                &key,
                rs256.clone(),
                claims("user_2abc", AUD, "https://evil.test", now + 600),
            ),
        ),
        (
            "expired",
            token(
                &key,
                rs256.clone(),
                claims("user_2abc", AUD, ISS, now - 120),
            ),
        ),
        (
            "unknown key",
            token(
                &key,
                json!({"alg": "RS256", "kid": "k9"}),
                claims("user_2abc", AUD, ISS, now + 600),
            ),
        ),
        (
            "no kid",
            token(
                &key,
                json!({"alg": "RS256"}),
                claims("user_2abc", AUD, ISS, now + 600),
            ),
        ),
    ];
    for (why, t) in refused {
        assert_eq!(
            session(&s.base, &t).await.0,
            StatusCode::UNAUTHORIZED,
            "{why}"
        );
    }
    // Claims changed after signing, an HMAC token keyed with the public modulus, `none`.
    let (h, rest) = good.split_once('.').unwrap();
    let sig = rest.split_once('.').unwrap().1;
    let forged_claims =
        URL_SAFE_NO_PAD.encode(claims("user_admin", AUD, ISS, now + 600).to_string());
    assert_eq!(
        session(&s.base, &format!("{h}.{forged_claims}.{sig}"))
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "forged claims"
    );
    let hs = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "kid": "k1"}).to_string());
    assert_eq!(
        session(&s.base, &format!("{hs}.{forged_claims}.{sig}"))
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "HS256"
    );
    let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": "k1"}).to_string());
    assert_eq!(
        session(&s.base, &format!("{none}.{forged_claims}."))
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "none"
    );
    // API keys keep working beside JWTs.
    let (_, key_) = user_with_key(s.state.db(), "script@t.test", false).await;
    assert_eq!(session(&s.base, &key_).await.0, StatusCode::OK);

    // A JWKS streamed without a length: padded with whitespace to 640 KiB it is read,
    // to 1.25 MiB (over the 1 MiB cap) it is refused, and the token with it.
    for (pads, expected) in [(10, StatusCode::OK), (20, StatusCode::UNAUTHORIZED)] {
        let head = format!("{{\"keys\": [{}]", rs256_jwk(&key, "k1"));
        let chunks: Vec<_> = std::iter::once(head.into_bytes())
            .chain((0..pads).map(|_| vec![b' '; 64 << 10]))
            .chain(std::iter::once(b"}".to_vec()))
            .map(|b| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(b)))
            .collect();
        let padded = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let body = futures::stream::iter(chunks.clone());
                async move { axum::body::Body::from_stream(body) }
            }),
        );
        let h = host_for(&format!("http://{}/jwks", serve(padded).await), true).await;
        assert_eq!(
            session(&h.base, &good).await.0,
            expected,
            "{pads} × 64 KiB of padding"
        );
    }

    // With creating users off, an unknown subject is refused, a linked one still works.
    let strict = host_for(&jwks_url, false).await;
    assert_eq!(
        session(&strict.base, &good).await.0,
        StatusCode::UNAUTHORIZED
    );
    let db = strict.state.db();
    let u = db.create_user("grace@rivers.test", false).await.unwrap();
    db.link_identity(ISS, "user_2abc", &u.id).await.unwrap();
    assert_eq!(
        session(&strict.base, &good).await.1["user"]["id"],
        json!(u.id)
    );
}
