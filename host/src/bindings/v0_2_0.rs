//! `tributary:provider@0.2.0`, the latest version: its `bindgen!` site and the conversions
//! between its generated types and the host's. The capabilities implement its imports.

wasmtime::component::bindgen!({
    path: "../wit/0.2.0",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

use self::tributary::provider::types as t;
use exports::tributary::provider::provider as p;

common_conversions!();

fn body(b: p::Body) -> m::Body {
    match b {
        p::Body::Text(s) => m::Body::Text(s),
        p::Body::Bytes(b) => m::Body::Bytes(b),
        p::Body::Download(d) => m::Body::Download(m::Download {
            url: d.url,
            headers: d.headers,
            authenticate: d.authenticate,
            size: d.size,
        }),
    }
}

fn auth(a: p::Auth) -> m::Auth {
    match a {
        p::Auth::None => m::Auth::None,
        p::Auth::Oauth2(o) => m::Auth::Oauth2(m::Oauth2 {
            authorize_url: o.authorize_url,
            token_url: o.token_url,
            revoke_url: o.revoke_url,
            scopes: o.scopes,
            pkce: o.pkce,
            client_auth: client_auth(o.client_auth),
            extra_params: o.extra_params,
            scope_param: o.scope_param,
            scope_separator: o.scope_separator,
            token_pointer: o.token_pointer,
        }),
        p::Auth::ApiKey(label) => m::Auth::ApiKey(label),
        p::Auth::Basic => m::Auth::Basic,
    }
}

fn injection(i: p::Injection) -> m::Injection {
    match i {
        p::Injection::Bearer => m::Injection::Bearer,
        p::Injection::Header(h) => m::Injection::Header(h),
        p::Injection::Query(q) => m::Injection::Query(q),
        p::Injection::Basic => m::Injection::Basic,
        p::Injection::PrefixedHeader(h) => m::Injection::PrefixedHeader {
            name: h.name,
            prefix: h.prefix,
        },
    }
}

/// `manifest()`.
pub(super) async fn manifest(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = crate::runtime::PluginState>,
) -> wasmtime::Result<m::Manifest> {
    let mut x = p.tributary_provider_provider().call_manifest(store).await?;
    let actions = std::mem::take(&mut x.actions)
        .into_iter()
        .map(|a| m::Action {
            name: a.name,
            title: a.title,
            description: a.description,
            input_schema: a.input_schema,
        })
        .collect();
    Ok(manifest_of(x, actions, "0.2.0"))
}

/// `webhook(config, req)`.
pub(super) async fn webhook(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = crate::runtime::PluginState>,
    config: &[(String, String)],
    req: &m::WebhookRequest,
) -> super::CallResult<m::WebhookOutcome> {
    let req = p::WebhookRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
        body: req.body.clone(),
        subscription_secret: req.subscription_secret.clone(),
    };
    let api = p.tributary_provider_provider();
    typed(api.call_webhook(store, &config.to_vec(), &req).await, |o| {
        m::WebhookOutcome {
            verified: o.verified,
            delivery_id: o.delivery_id,
            account_id: o.account_id,
            changes: changes(o.changes),
            sync_requested: o.sync_requested,
            response: o.response.map(webhook_response),
        }
    })
}

/// `subscribe(config, callback, secret)`.
pub(super) async fn subscribe(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = crate::runtime::PluginState>,
    config: &[(String, String)],
    callback_url: &str,
    secret: &str,
) -> super::CallResult<m::Subscription> {
    let api = p.tributary_provider_provider();
    let r = api
        .call_subscribe(store, &config.to_vec(), callback_url, secret)
        .await;
    typed(r, |s| m::Subscription {
        id: s.id,
        expires_at: s.expires_at,
        resource: s.resource,
    })
}

/// `unsubscribe(config, subscription)`.
pub(super) async fn unsubscribe(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = crate::runtime::PluginState>,
    config: &[(String, String)],
    s: &m::Subscription,
) -> super::CallResult<()> {
    let s = p::Subscription {
        id: s.id.clone(),
        expires_at: s.expires_at,
        resource: s.resource.clone(),
    };
    let api = p.tributary_provider_provider();
    typed(
        api.call_unsubscribe(store, &config.to_vec(), &s).await,
        |()| (),
    )
}

/// `run-action(config, name, input)`.
pub(super) async fn run_action(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = crate::runtime::PluginState>,
    config: &[(String, String)],
    name: &str,
    input: &str,
) -> super::CallResult<String> {
    let api = p.tributary_provider_provider();
    typed(
        api.call_run_action(store, &config.to_vec(), name, input)
            .await,
        |s| s,
    )
}
