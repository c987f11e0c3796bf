//! Accounts and authorization: every endpoint as every role (org owner, org admin, org
//! member, stranger, platform admin, anonymous), registry restrictions, input validation,
//! and the OpenAPI document checked against the router.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tributary::db::Role;

struct World {
    base: String,
    owner: String,
    org_admin: String,
    member: String,
    stranger: String,
    root: String,
    _served: Served,
}

async fn world() -> World {
    world_on(None).await
}

async fn world_on(db_url: Option<String>) -> World {
    let served = serve_host(db_url, &["misbehave"], false).await;
    let db = served.state.db().clone();
    let (owner_u, owner) = user_with_key(&db, "owner@acme.test", false).await;
    let (admin_u, org_admin) = user_with_key(&db, "admin@acme.test", false).await;
    let (member_u, member) = user_with_key(&db, "member@acme.test", false).await;
    let (_, stranger) = user_with_key(&db, "stranger@else.test", false).await;
    let (_, root) = user_with_key(&db, "root@tributary.test", true).await;
    let org = db.create_org("acme", &owner_u).await.unwrap();
    db.set_member(&org, &admin_u, Role::Admin).await.unwrap();
    db.set_member(&org, &member_u, Role::Member).await.unwrap();
    let w = World {
        base: served.base.clone(),
        owner,
        org_admin,
        member,
        stranger,
        root,
        _served: served,
    };
    // The owner connects a personal integration, the org admin one for the org.
    let c = w
        .call(
            Method::POST,
            "/api/integrations/misbehave/connect",
            Some(&w.owner),
            Some(json!({"api_key": "k-owner"})),
        )
        .await;
    assert_eq!(c.0, 201, "{}", c.1);
    let c = w
        .call(
            Method::POST,
            "/api/organizations/acme/integrations/misbehave/connect",
            Some(&w.org_admin),
            Some(json!({"api_key": "k-org"})),
        )
        .await;
    assert_eq!(c.0, 201, "{}", c.1);
    w
}

impl World {
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_each_role_gets_exactly_its_rights() {
    matrix(world().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_each_role_gets_exactly_its_rights_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    matrix(world_on(Some(url)).await).await;
}

async fn matrix(w: World) {
    let roles: [(&str, Option<&str>); 6] = [
        ("owner", Some(&w.owner)),
        ("org admin", Some(&w.org_admin)),
        ("member", Some(&w.member)),
        ("stranger", Some(&w.stranger)),
        ("platform admin", Some(&w.root)),
        ("anonymous", None),
    ];
    let org_read = [
        "/api/organizations/acme/integrations",
        "/api/organizations/acme/integrations/connected",
        "/api/organizations/acme/integrations/misbehave",
    ];
    for (role, key) in roles {
        for path in org_read {
            let (status, body) = w.call(Method::GET, path, key, None).await;
            let want = match role {
                "anonymous" => 401,
                "stranger" => 404,
                _ => 200,
            };
            assert_eq!(status, want, "{role} GET {path}: {body}");
            if status >= 400 {
                assert!(
                    body["error"]["code"].is_string(),
                    "{role} GET {path}: error shape {body}"
                );
            }
        }
        // Writes on the org's integration, in an order that keeps each step valid.
        let writes: [(Method, &str, Option<Value>, u16); 5] = [
            (Method::POST, "/pause", None, 200),
            (Method::POST, "/resume", None, 200),
            (
                Method::PUT,
                "/config",
                Some(json!({"sync_frequency": "DAILY"})),
                200,
            ),
            (Method::POST, "/sync", Some(json!({"mode": "full"})), 202),
            (Method::DELETE, "", None, 204),
        ];
        for (method, suffix, body, ok) in writes {
            let path = format!("/api/organizations/acme/integrations/misbehave{suffix}");
            let (status, resp) = w.call(method.clone(), &path, key, body).await;
            let want = match role {
                "anonymous" => 401,
                "stranger" => 404,
                "member" => 403,
                _ => ok,
            };
            assert_eq!(status, want, "{role} {method} {path}: {resp}");
        }
        let connect = w
            .call(
                Method::POST,
                "/api/organizations/acme/integrations/misbehave/connect",
                key,
                Some(json!({"api_key": "k-org"})),
            )
            .await;
        let want = match role {
            "anonymous" => 401,
            "stranger" => 404,
            "member" => 403,
            _ => 201,
        };
        assert_eq!(connect.0, want, "{role} connect: {}", connect.1);

        // Personal routes always address the caller's own integrations.
        let (status, body) = w
            .call(Method::GET, "/api/integrations/misbehave", key, None)
            .await;
        let want = match role {
            "anonymous" => 401,
            "owner" => 200,
            _ => 404,
        };
        assert_eq!(status, want, "{role} GET own integration: {body}");
        let (status, body) = w
            .call(Method::GET, "/api/integrations/connected", key, None)
            .await;
        if let Some(k) = key {
            assert_eq!(status, 200);
            let n = body["integrations"].as_array().unwrap().len();
            assert_eq!(
                n,
                usize::from(k == w.owner),
                "{role} sees only their own: {body}"
            );
        }

        let admin_reads = [
            "/api/admin/integrations",
            "/api/admin/integrations/registry",
            "/api/admin/integrations/sync-jobs",
            "/api/admin/integrations/stats",
            "/api/admin/plugins",
            "/api/admin/plugins/misbehave",
            "/api/admin/providers/misbehave/settings",
            "/api/admin/providers/misbehave/oauth",
        ];
        for path in admin_reads {
            let (status, body) = w.call(Method::GET, path, key, None).await;
            let want = match role {
                "anonymous" => 401,
                "platform admin" => 200,
                _ => 403,
            };
            assert_eq!(status, want, "{role} GET {path}: {body}");
        }
        let (status, _) = w
            .call(
                Method::PUT,
                "/api/admin/integrations/registry/misbehave",
                key,
                Some(json!({"enabled": true})),
            )
            .await;
        assert_eq!(
            status,
            match role {
                "anonymous" => 401,
                "platform admin" => 200,
                _ => 403,
            },
            "{role} PUT registry"
        );
        // Every other admin write: never for anyone but a platform admin.
        let admin_writes: [(Method, &str, Option<Value>); 5] = [
            (
                Method::PUT,
                "/api/admin/providers/misbehave/settings",
                Some(json!({})),
            ),
            (
                Method::PUT,
                "/api/admin/providers/misbehave/oauth",
                Some(json!({"client_id": "c", "client_secret": "s"})),
            ),
            (Method::POST, "/api/admin/plugins", None),
            (Method::DELETE, "/api/admin/plugins/nosuch", None),
            (
                Method::POST,
                "/api/admin/integrations/sync-jobs/nosuch/retry",
                None,
            ),
        ];
        for (method, path, body) in admin_writes {
            let (status, resp) = w.call(method.clone(), path, key, body).await;
            match role {
                "anonymous" => assert_eq!(status, 401, "{role} {method} {path}: {resp}"),
                "platform admin" => assert!(
                    ![401, 403, 404, 405].contains(&status) || path.contains("nosuch"),
                    "{method} {path}: {status} {resp}"
                ),
                _ => assert_eq!(status, 403, "{role} {method} {path}: {resp}"),
            }
        }
        // Personal writes only ever reach the caller's own integration.
        for (method, suffix) in [
            (Method::PUT, "/config"),
            (Method::POST, "/sync"),
            (Method::POST, "/pause"),
            (Method::POST, "/resume"),
        ] {
            let path = format!("/api/integrations/misbehave{suffix}");
            let (status, resp) = w.call(method.clone(), &path, key, Some(json!({}))).await;
            let want = match role {
                "anonymous" => 401,
                "owner" if suffix == "/sync" => 202,
                "owner" => 200,
                _ => 404,
            };
            assert_eq!(status, want, "{role} {method} {path}: {resp}");
        }
    }
    // The platform admin sees every owner's integrations.
    let (_, all) = w
        .call(
            Method::GET,
            "/api/admin/integrations?status=ACTIVE",
            Some(&w.root),
            None,
        )
        .await;
    let owners: std::collections::BTreeSet<_> = all["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["owner"]["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(owners.contains("user") && owners.contains("org"), "{all}");
    // The admin sees the jobs the org's admins queued.
    let (_, jobs) = w
        .call(
            Method::GET,
            "/api/admin/integrations/sync-jobs",
            Some(&w.root),
            None,
        )
        .await;
    let job_id = jobs["jobs"][0]["id"].as_str().unwrap().to_string();
    let (status, job) = w
        .call(
            Method::GET,
            &format!("/api/admin/integrations/sync-jobs/{job_id}"),
            Some(&w.root),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Connecting queued the first sync at once; the manual request joined it.
    assert_eq!(job["trigger"], "connect");
    let (status, _) = w
        .call(
            Method::GET,
            &format!("/api/admin/integrations/sync-jobs/{job_id}"),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_registry_restricts_providers() {
    let w = world().await;
    let listed = |body: &Value| {
        body["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["provider"]["id"] == "misbehave")
    };
    let (_, body) = w
        .call(Method::GET, "/api/integrations", Some(&w.stranger), None)
        .await;
    assert!(listed(&body));
    let (s, _) = w
        .call(
            Method::PUT,
            "/api/admin/integrations/registry/misbehave",
            Some(&w.root),
            Some(json!({"allowed_plans": ["pro"]})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, body) = w
        .call(Method::GET, "/api/integrations", Some(&w.stranger), None)
        .await;
    assert!(!listed(&body), "free plan must not see a pro-only provider");
    let (s, body) = w
        .call(
            Method::POST,
            "/api/integrations/misbehave/connect",
            Some(&w.stranger),
            Some(json!({"api_key": "k"})),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (s, _) = w
        .call(
            Method::PUT,
            "/api/admin/integrations/registry/misbehave",
            Some(&w.root),
            Some(json!({"allowed_plans": [], "enabled": false})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, body) = w
        .call(Method::GET, "/api/integrations", Some(&w.stranger), None)
        .await;
    assert!(!listed(&body), "a disabled provider is offered to nobody");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_when_requests_are_malformed() {
    let w = world().await;
    let cases: Vec<(Method, &str, Option<Value>, u16, &str)> = vec![
        (
            Method::PUT,
            "/api/integrations/misbehave/config",
            Some(json!({"config": {"nope": "x"}})),
            400,
            "bad_request",
        ),
        (
            Method::PUT,
            "/api/integrations/misbehave/config",
            Some(json!({"storage_strategy": "EVERYTHING"})),
            400,
            "bad_request",
        ),
        (
            Method::PUT,
            "/api/integrations/misbehave/config",
            Some(json!({"sync_frequency": "HOURLY", "extra": 1})),
            400,
            "bad_request",
        ),
        (
            Method::POST,
            "/api/integrations/misbehave/sync",
            Some(json!({"mode": "sideways"})),
            400,
            "bad_request",
        ),
        (
            Method::POST,
            "/api/integrations/misbehave/resume",
            None,
            409,
            "conflict",
        ),
        (
            Method::POST,
            "/api/integrations/nosuch/connect",
            None,
            404,
            "not_found",
        ),
        (
            Method::POST,
            "/api/integrations/misbehave/connect",
            Some(json!({})),
            400,
            "bad_request",
        ),
        (
            Method::PUT,
            "/api/admin/integrations/registry/Bad-Id",
            Some(json!({})),
            400,
            "bad_request",
        ),
        (
            Method::PUT,
            "/api/admin/providers/misbehave/oauth",
            Some(json!({"client_id": ""})),
            400,
            "bad_request",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let key = if path.starts_with("/api/admin") {
            &w.root
        } else {
            &w.owner
        };
        let (s, resp) = w.call(method.clone(), path, Some(key), body).await;
        assert_eq!(
            (s, resp["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {resp}"
        );
    }
    // Not JSON at all, and too large: still the API's error shape.
    let client = reqwest::Client::new();
    let resp = client
        .put(format!("{}/api/integrations/misbehave/config", w.base))
        .bearer_auth(&w.owner)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = client
        .put(format!("{}/api/integrations/misbehave/config", w.base))
        .bearer_auth(&w.owner)
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["code"],
        "payload_too_large"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_the_openapi_document_matches_the_router() {
    let w = world().await;
    let (status, doc) = w.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    // Every endpoint of seed 004 (plus ours) is documented...
    let expected = [
        ("get", "/api/integrations"),
        ("get", "/api/integrations/connected"),
        ("post", "/api/integrations/{provider}/connect"),
        ("get", "/api/integrations/{provider}/callback"),
        ("get", "/api/integrations/{provider}"),
        ("put", "/api/integrations/{provider}/config"),
        ("post", "/api/integrations/{provider}/sync"),
        ("post", "/api/integrations/{provider}/pause"),
        ("post", "/api/integrations/{provider}/resume"),
        ("delete", "/api/integrations/{provider}"),
        ("get", "/api/organizations/{slug}/integrations"),
        ("get", "/api/organizations/{slug}/integrations/connected"),
        (
            "post",
            "/api/organizations/{slug}/integrations/{provider}/connect",
        ),
        (
            "get",
            "/api/organizations/{slug}/integrations/{provider}/callback",
        ),
        ("get", "/api/organizations/{slug}/integrations/{provider}"),
        (
            "put",
            "/api/organizations/{slug}/integrations/{provider}/config",
        ),
        (
            "post",
            "/api/organizations/{slug}/integrations/{provider}/sync",
        ),
        (
            "delete",
            "/api/organizations/{slug}/integrations/{provider}",
        ),
        ("get", "/api/admin/integrations/registry"),
        ("put", "/api/admin/integrations/registry/{provider}"),
        ("get", "/api/admin/integrations/sync-jobs"),
        ("get", "/api/admin/integrations/sync-jobs/{job_id}"),
        ("get", "/api/admin/integrations/stats"),
        ("get", "/api/admin/plugins"),
        ("post", "/api/admin/plugins"),
        ("delete", "/api/admin/plugins/{id}"),
        ("get", "/health"),
    ];
    for (method, path) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // ...and every documented operation is served (never the fallback 404 or a 405).
    let mut n = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{provider}", "misbehave")
                .replace("{slug}", "acme")
                .replace("{id}", "misbehave")
                .replace("{job_id}", "nope");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, body) = w.call(m, &concrete, None, None).await;
            assert!(status != 405, "{method} {path} answered 405");
            assert!(
                body["error"]["message"] != "no such endpoint",
                "{method} {path} is documented but not routed"
            );
            n += 1;
        }
    }
    assert!(n >= 36, "only {n} operations documented");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_a_basic_auth_account_is_validated_before_it_is_stored() {
    use axum::http::HeaderMap;
    use base64::Engine as _;
    let served = serve_host(None, &["basicky"], false).await;
    let db = served.state.db().clone();
    let (_, root) = user_with_key(&db, "root@b.test", true).await;
    let (_, ada) = user_with_key(&db, "ada@b.test", false).await;
    let whoami = axum::routing::get(|h: HeaderMap| async move {
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ada:s3cret")
        );
        match h.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(v) if v == good => (
                axum::http::StatusCode::OK,
                axum::Json(json!({"user": "ada"})),
            ),
            _ => (
                axum::http::StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "bad credentials"})),
            ),
        }
    });
    let api = serve(axum::Router::new().route("/whoami", whoami)).await;
    let w = World {
        base: served.base.clone(),
        owner: ada.clone(),
        org_admin: String::new(),
        member: String::new(),
        stranger: String::new(),
        root: root.clone(),
        _served: served,
    };
    let (s, _) = w
        .call(
            Method::PUT,
            "/api/admin/providers/basicky/settings",
            Some(&root),
            Some(json!({"base_urls": {"https://api.basicky.test": format!("http://{api}")}})),
        )
        .await;
    assert_eq!(s, 200);

    let (s, body) = w
        .call(
            Method::POST,
            "/api/integrations/basicky/connect",
            Some(&ada),
            Some(json!({"username": "ada", "password": "wrong"})),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("unauthorized")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("wrong"),
        "the password is not echoed: {body}"
    );
    let (s, _) = w
        .call(Method::GET, "/api/integrations/basicky", Some(&ada), None)
        .await;
    assert_eq!(s, 404, "a rejected credential connects nothing");
    let (s, body) = w
        .call(
            Method::POST,
            "/api/integrations/basicky/connect",
            Some(&ada),
            Some(json!({"username": "ada"})),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );

    let (s, body) = w
        .call(
            Method::POST,
            "/api/integrations/basicky/connect",
            Some(&ada),
            Some(json!({"username": "ada", "password": "s3cret"})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["account"]["name"], "ada");
    assert!(!body.to_string().contains("s3cret"));
}
