//! Every route of the OpenAPI document is called for real, and each answer is checked
//! against the document: its status must be documented for that operation, and its JSON
//! body must validate against the documented schema, where objects may carry no field
//! the document does not name. A route added without a shape, or a shape that drifts
//! from what a handler sends, fails here.

use std::collections::{BTreeSet, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;
use crate::sign_in::{PASSWORD, login, session_cookie, user_with_password};
use crate::ui_person::feed;

struct Checker {
    doc: Value,
    components: Value,
    base: String,
    seen: HashSet<(String, String)>,
    http: reqwest::Client,
}

enum Auth<'a> {
    Anon,
    Key(&'a str),
    Cookie(&'a str, &'a str),
}

/// The document's schemas, with every plain object closed to fields it does not name
/// (those composed by `allOf` stay open: each part sees only its own fields).
fn strict(components: &Value) -> Value {
    let mut c = components.clone();
    let mut composed = BTreeSet::new();
    fn refs_in_all_of(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(parts)) = m.get("allOf") {
                    for p in parts {
                        if let Some(r) = p.get("$ref").and_then(Value::as_str) {
                            out.insert(r.rsplit('/').next().unwrap().to_string());
                        }
                    }
                }
                m.values().for_each(|x| refs_in_all_of(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs_in_all_of(x, out)),
            _ => {}
        }
    }
    refs_in_all_of(components, &mut composed);
    for (name, schema) in c["schemas"].as_object_mut().unwrap() {
        if !composed.contains(name)
            && schema.get("properties").is_some()
            && schema.get("additionalProperties").is_none()
        {
            schema["additionalProperties"] = json!(false);
        }
    }
    c
}

impl Checker {
    /// Call `method template` (with `path` filled in) and check the answer.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        auth: Auth<'_>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        req = match auth {
            Auth::Anon => req,
            Auth::Key(k) => req.bearer_auth(k),
            Auth::Cookie(c, csrf) => req.header("cookie", c).header("x-csrf-token", csrf),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        self.check(method, template, resp).await
    }

    async fn check(
        &mut self,
        method: Method,
        template: &str,
        resp: reqwest::Response,
    ) -> (StatusCode, Value) {
        let status = resp.status();
        let m = method.as_str().to_lowercase();
        let op = &self.doc["paths"][template][&m];
        assert!(op.is_object(), "{m} {template} is not in the document");
        let documented = &op["responses"][status.as_str()];
        assert!(
            documented.is_object(),
            "{m} {template} answered {status}, which the document does not list"
        );
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        self.seen.insert((m.clone(), template.to_string()));
        if !ctype.starts_with("application/json") {
            return (status, Value::Null);
        }
        let value: Value = resp.json().await.unwrap();
        let schema = &documented["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{m} {template} {status} sends JSON the document gives no schema for: {value}"
        );
        self.validate(schema, &value, &format!("{m} {template} {status}"));
        (status, value)
    }

    fn validate(&self, schema: &Value, value: &Value, what: &str) {
        let errors = self.errors(schema, value);
        assert!(errors.is_empty(), "{what}: {errors:?}\n{value}");
    }

    fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut root = schema.clone();
        root["components"] = self.components.clone();
        let validator = jsonschema::validator_for(&root).unwrap();
        validator
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

/// `call!(c, GET "/template", path, auth[, body])`: one checked call, `(status, body)`.
macro_rules! call {
    ($c:ident, $m:ident $t:literal, $p:expr, $a:expr) => {
        $c.call(Method::$m, $t, &$p, $a, None).await
    };
    ($c:ident, $m:ident $t:literal, $p:expr, $a:expr, $b:expr) => {
        $c.call(Method::$m, $t, &$p, $a, Some($b)).await
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_when_every_route_answers_as_the_document_says() {
    let posts = feed(
        "Doc Letter",
        &[
            ("One", "https://example.org/1", "first words"),
            ("Two", "https://example.org/2", "second words"),
        ],
    )
    .await;
    let s = serve_host_tuned(None, &["substack", "gdrive"], true, |c| {
        c.frontend_url = None
    })
    .await;
    let db = s.state.db().clone();
    let (root, rk) = user_with_key(&db, "root@t.test", true).await;
    let (_, uk) = user_with_key(&db, "ada@t.test", false).await;
    user_with_password(&db, "pat@t.test", false).await;
    db.create_user("carol@t.test", false).await.unwrap();
    db.create_org("acme", &root).await.unwrap();
    let doc: Value = reqwest::get(format!("{}/api/openapi.json", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let components = strict(&doc["components"]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut c = Checker {
        doc,
        components,
        base: s.base.clone(),
        seen: HashSet::new(),
        http,
    };
    use Auth::*;
    let feed_cfg = json!({"config": {"feed_url": posts}});
    let (rk, uk) = (rk.as_str(), uk.as_str());

    // Sign-in and organizations.
    let (_, headers, _) = login(&s.base, "pat@t.test", PASSWORD).await;
    let (cookie, _) = session_cookie(&headers);
    call!(c, POST "/api/auth/login", "/api/auth/login", Anon, json!({"email": "pat@t.test", "password": "nope nope nope"}));
    let (_, me) = call!(c, POST "/api/auth/login", "/api/auth/login", Anon, json!({"email": "pat@t.test", "password": PASSWORD}));
    assert!(me["csrf_token"].is_string());
    let (_, me) = call!(c, GET "/api/auth/session", "/api/auth/session", Cookie(&cookie, ""));
    let csrf = me["csrf_token"].as_str().unwrap().to_string();
    call!(c, POST "/api/auth/link", "/api/auth/link", Anon, json!({"token": "0".repeat(64)}));
    call!(c, PUT "/api/auth/password", "/api/auth/password", Cookie(&cookie, &csrf), json!({"current": PASSWORD, "new": "another long password"}));
    let (_, headers, _) = login(&s.base, "pat@t.test", "another long password").await;
    let (cookie, _) = session_cookie(&headers);
    let (_, me) = call!(c, GET "/api/auth/session", "/api/auth/session", Cookie(&cookie, ""));
    call!(c, POST "/api/auth/logout", "/api/auth/logout", Cookie(&cookie, me["csrf_token"].as_str().unwrap()));
    call!(c, GET "/api/organizations", "/api/organizations", Key(rk));
    let (_, members) = call!(c, PUT "/api/organizations/{slug}/members", "/api/organizations/acme/members", Key(rk), json!({"email": "carol@t.test", "role": "member"}));
    call!(c, GET "/api/organizations/{slug}/members", "/api/organizations/acme/members", Key(rk));
    let carol = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "carol@t.test")
        .unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    call!(c, DELETE "/api/organizations/{slug}/members/{user_id}", format!("/api/organizations/acme/members/{carol}"), Key(rk));

    // A person's integration, start to end.
    call!(c, GET "/api/integrations", "/api/integrations", Anon);
    call!(c, GET "/api/integrations", "/api/integrations", Key(uk));
    call!(c, POST "/api/integrations/{provider}/connect", "/api/integrations/substack/connect", Key(uk), feed_cfg.clone());
    call!(c, POST "/api/integrations/{provider}/connect", "/api/integrations/gdrive/connect", Key(uk));
    call!(c, GET "/api/integrations/connected", "/api/integrations/connected", Key(uk));
    call!(c, GET "/api/integrations/{provider}", "/api/integrations/substack", Key(uk));
    call!(c, GET "/api/integrations/{provider}", "/api/integrations/gdrive", Key(uk));
    call!(c, PUT "/api/integrations/{provider}/config", "/api/integrations/substack/config", Key(uk), json!({"sync_frequency": "DAILY"}));
    call!(c, PUT "/api/integrations/{provider}/config", "/api/integrations/substack/config", Key(uk), json!({"sync_frequency": "YEARLY"}));
    let (_, job) = call!(c, POST "/api/integrations/{provider}/sync", "/api/integrations/substack/sync", Key(uk), json!({"mode": "full"}));
    let job_id = job["id"].as_str().unwrap().to_string();
    call!(c, POST "/api/integrations/{provider}/pause", "/api/integrations/substack/pause", Key(uk));
    call!(c, POST "/api/integrations/{provider}/pause", "/api/integrations/substack/pause", Key(uk));
    call!(c, POST "/api/integrations/{provider}/resume", "/api/integrations/substack/resume", Key(uk));
    call!(c, POST "/api/integrations/{provider}/actions/{action}", "/api/integrations/substack/actions/nothing", Key(uk), json!({}));
    call!(c, GET "/api/integrations/{provider}/callback", "/api/integrations/gdrive/callback?state=forged&code=x", Anon);
    call!(c, GET "/api/search", "/api/search?q=words", Key(uk));
    call!(c, GET "/api/search", "/api/search?q=", Key(uk));
    call!(c, POST "/api/search", "/api/search", Key(uk), json!({"q": "words", "limit": 5}));
    call!(c, POST "/api/webhooks/integrations/{provider}", "/api/webhooks/integrations/substack", Anon, json!({}));
    call!(c, POST "/api/webhooks/integrations/{provider}/{integration_id}", "/api/webhooks/integrations/substack/nope", Anon, json!({}));

    // The same for an organization.
    call!(c, GET "/api/organizations/{slug}/integrations", "/api/organizations/acme/integrations", Key(rk));
    call!(c, POST "/api/organizations/{slug}/integrations/{provider}/connect", "/api/organizations/acme/integrations/substack/connect", Key(rk), feed_cfg);
    call!(c, GET "/api/organizations/{slug}/integrations/connected", "/api/organizations/acme/integrations/connected", Key(rk));
    call!(c, GET "/api/organizations/{slug}/integrations/{provider}", "/api/organizations/acme/integrations/substack", Key(rk));
    call!(c, PUT "/api/organizations/{slug}/integrations/{provider}/config", "/api/organizations/acme/integrations/substack/config", Key(rk), json!({"storage_strategy": "METADATA_ONLY"}));
    call!(c, POST "/api/organizations/{slug}/integrations/{provider}/sync", "/api/organizations/acme/integrations/substack/sync", Key(rk));
    call!(c, POST "/api/organizations/{slug}/integrations/{provider}/pause", "/api/organizations/acme/integrations/substack/pause", Key(rk));
    call!(c, POST "/api/organizations/{slug}/integrations/{provider}/resume", "/api/organizations/acme/integrations/substack/resume", Key(rk));
    call!(c, POST "/api/organizations/{slug}/integrations/{provider}/actions/{action}", "/api/organizations/acme/integrations/substack/actions/nothing", Key(rk), json!({}));
    call!(c, GET "/api/organizations/{slug}/integrations/{provider}/callback", "/api/organizations/acme/integrations/gdrive/callback?error=access_denied", Anon);
    call!(c, DELETE "/api/organizations/{slug}/integrations/{provider}", "/api/organizations/acme/integrations/substack", Key(rk), json!({"purge": true}));

    // Admin.
    let job_path = format!("/api/admin/integrations/sync-jobs/{job_id}");
    call!(c, GET "/api/admin/integrations", "/api/admin/integrations", Key(uk));
    call!(c, GET "/api/admin/integrations", "/api/admin/integrations?limit=10", Key(rk));
    call!(c, GET "/api/admin/integrations/registry", "/api/admin/integrations/registry", Key(rk));
    call!(c, PUT "/api/admin/integrations/registry/{provider}", "/api/admin/integrations/registry/substack", Key(rk), json!({"allowed_plans": ["free"]}));
    call!(c, GET "/api/admin/integrations/sync-jobs", "/api/admin/integrations/sync-jobs?limit=5", Key(rk));
    call!(c, GET "/api/admin/integrations/sync-jobs/{job_id}", job_path, Key(rk));
    call!(c, POST "/api/admin/integrations/sync-jobs/{job_id}/retry", format!("{job_path}/retry"), Key(rk));
    db.end_job(&job_id, "DEAD", Some("gave up")).await.unwrap();
    call!(c, POST "/api/admin/integrations/sync-jobs/{job_id}/retry", format!("{job_path}/retry"), Key(rk));
    call!(c, GET "/api/admin/integrations/stats", "/api/admin/integrations/stats", Key(rk));
    call!(c, GET "/api/admin/webhooks/deliveries", "/api/admin/webhooks/deliveries?limit=5", Key(rk));
    call!(c, PUT "/api/admin/providers/{provider}/oauth", "/api/admin/providers/gdrive/oauth", Key(rk), json!({"client_id": "id", "client_secret": "secret"}));
    call!(c, GET "/api/admin/providers/{provider}/oauth", "/api/admin/providers/gdrive/oauth", Key(rk));
    call!(c, GET "/api/admin/providers/{id}/settings", "/api/admin/providers/gdrive/settings", Key(rk));
    call!(c, PUT "/api/admin/providers/{id}/settings", "/api/admin/providers/gdrive/settings", Key(rk), json!({"base_urls": {"https://www.googleapis.com": "http://127.0.0.1:9"}}));
    call!(c, GET "/api/admin/plugins", "/api/admin/plugins", Key(rk));
    call!(c, GET "/api/admin/plugins/{id}", "/api/admin/plugins/gdrive", Key(rk));
    for wasm in [
        std::fs::read(component("substack")).unwrap(),
        b"\0asm junk".to_vec(),
    ] {
        let resp = c
            .http
            .post(format!("{}/api/admin/plugins", s.base))
            .bearer_auth(rk)
            .body(wasm)
            .send()
            .await
            .unwrap();
        c.check(Method::POST, "/api/admin/plugins", resp).await;
    }
    call!(c, DELETE "/api/admin/plugins/{id}", "/api/admin/plugins/gdrive", Key(rk));
    call!(c, GET "/health", "/health", Anon);
    call!(c, GET "/metrics", "/metrics", Key(rk));

    // Server-sent events: the stream opens with the queued job, a documented `SyncJob`.
    let mut resp = c
        .http
        .get(format!("{}/api/events", s.base))
        .bearer_auth(uk)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let bytes = tokio::time::timeout(std::time::Duration::from_secs(10), resp.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    assert!(text.starts_with("event: job"), "{text}");
    let data = text.lines().find_map(|l| l.strip_prefix("data:")).unwrap();
    let event: Value = serde_json::from_str(data.trim()).unwrap();
    let job_schema = json!({"$ref": "#/components/schemas/SyncJob"});
    c.validate(&job_schema, &event, "a job event");
    c.check(Method::GET, "/api/events", resp).await;
    call!(c, DELETE "/api/integrations/{provider}", "/api/integrations/substack", Key(uk), json!({"purge": false}));

    // The checker catches what it is for: a wrong type, a missing field, an undocumented one.
    let mut wrong = event.clone();
    wrong["resources_synced"] = json!("many");
    let mut missing = event.clone();
    missing.as_object_mut().unwrap().remove("status");
    let mut extra = event.clone();
    extra["surprise"] = json!(1);
    for bad in [wrong, missing, extra] {
        assert!(!c.errors(&job_schema, &bad).is_empty(), "{bad}");
    }

    let mut never = Vec::new();
    for (path, ops) in c.doc["paths"].as_object().unwrap() {
        for m in ops
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
        {
            if !c.seen.contains(&(m.clone(), path.clone())) {
                never.push(format!("{m} {path}"));
            }
        }
    }
    assert!(never.is_empty(), "routes this test never called: {never:?}");
}
