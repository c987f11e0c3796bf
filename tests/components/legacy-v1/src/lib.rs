//! A provider built against `tributary:provider@0.1.0` with plain wit-bindgen: an API-key
//! service whose items list at `GET https://api.legacy.test/items`. The host must keep
//! running it beside 0.2.0 plugins, imports included.
wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "plugin" });

use exports::tributary::provider::provider::{
    Account, Auth, Body, Capabilities, Category, Content, Guest, Injection, ListRequest, Page,
    ProviderManifest, RateLimits, Resource, Subscription, WebhookOutcome, WebhookRequest,
    WebhookRouting,
};
use tributary::provider::http::{Method, Request};
use tributary::provider::types::Error;

struct Legacy;

#[derive(serde::Deserialize)]
struct Item {
    id: String,
    title: String,
    text: String,
}

fn items() -> Result<Vec<Item>, Error> {
    let resp = tributary::provider::http::send(&Request {
        method: Method::Get,
        url: "https://api.legacy.test/items".into(),
        headers: vec![("accept".into(), "application/json".into())],
        body: None,
        authenticate: true,
        timeout_ms: None,
    })?;
    match resp.status {
        200 => serde_json::from_slice(&resp.body)
            .map_err(|e| Error::InvalidInput(format!("items: {e}"))),
        401 => Err(Error::Unauthorized("the API key was refused".into())),
        s => Err(Error::Transient(format!("items answered {s}"))),
    }
}

fn content(i: &Item) -> Content {
    Content {
        id: i.id.clone(),
        kind: "item".into(),
        title: i.title.clone(),
        body: Body::Text(i.text.clone()),
        mime_type: "text/plain".into(),
        url: None,
        author: None,
        created_at: None,
        updated_at: None,
        metadata: vec![("wit".into(), "0.1.0".into())],
        content_hash: format!("{}:{}", i.title.len(), i.text),
    }
}

impl Guest for Legacy {
    fn manifest() -> ProviderManifest {
        ProviderManifest {
            id: "legacy".into(),
            name: "Legacy".into(),
            description: "Built against WIT 0.1.0".into(),
            icon: String::new(),
            category: Category::Other,
            version: "1.0.0".into(),
            auth: Auth::ApiKey("Legacy key".into()),
            injection: Injection::Header("X-Legacy-Key".into()),
            capabilities: Capabilities {
                pull: true,
                incremental: false,
                webhooks: false,
                subscribe: false,
            },
            rate_limits: RateLimits {
                requests_per_minute: 600,
                requests_per_day: None,
                concurrency: 2,
            },
            allowed_hosts: vec!["api.legacy.test".into()],
            config: vec![],
            webhook: WebhookRouting::None,
            permissions: vec![],
        }
    }

    fn check(_config: Vec<(String, String)>) -> Result<Account, Error> {
        tributary::provider::log::log(tributary::provider::log::Level::Info, "legacy check");
        items()?;
        Ok(Account {
            id: "legacy-account".into(),
            name: "Legacy".into(),
            email: None,
        })
    }

    fn list(_config: Vec<(String, String)>, _req: ListRequest) -> Result<Page, Error> {
        let resources = items()?
            .iter()
            .map(|i| Resource {
                id: i.id.clone(),
                kind: "item".into(),
                title: i.title.clone(),
                url: None,
                modified_at: None,
                version: None,
                parent_id: None,
                content: Some(content(i)),
            })
            .collect();
        Ok(Page {
            resources,
            deleted: vec![],
            next_cursor: None,
            sync_token: None,
        })
    }

    fn fetch(_config: Vec<(String, String)>, id: String) -> Result<Content, Error> {
        items()?
            .iter()
            .find(|i| i.id == id)
            .map(content)
            .ok_or(Error::NotFound(id))
    }

    fn webhook(
        _config: Vec<(String, String)>,
        _req: WebhookRequest,
    ) -> Result<WebhookOutcome, Error> {
        Err(Error::InvalidInput("no webhooks".into()))
    }

    fn subscribe(_config: Vec<(String, String)>, _url: String) -> Result<Subscription, Error> {
        Err(Error::Other("no subscriptions".into()))
    }

    fn unsubscribe(_config: Vec<(String, String)>, _id: String) -> Result<(), Error> {
        Err(Error::Other("no subscriptions".into()))
    }
}

export!(Legacy);
