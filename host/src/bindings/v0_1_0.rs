//! `tributary:provider@0.1.0`, frozen: its `bindgen!` site, conversions to the host's
//! types, and its imports delegated to the latest version's capabilities (same
//! behaviour, same permission checks; only the generated types differ).

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

use self::tributary::provider as o;
use self::tributary::provider::types as t;
use exports::tributary::provider::provider as p;

use super::latest::tributary::provider as l;
use crate::runtime::PluginState;

common_conversions!();

fn body(b: p::Body) -> m::Body {
    match b {
        p::Body::Text(s) => m::Body::Text(s),
        p::Body::Bytes(b) => m::Body::Bytes(b),
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
            scope_param: None,
            scope_separator: None,
            token_pointer: None,
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
    }
}

/// `manifest()`.
pub(super) async fn manifest(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = PluginState>,
) -> wasmtime::Result<m::Manifest> {
    let x = p.tributary_provider_provider().call_manifest(store).await?;
    Ok(manifest_of(x, Vec::new(), "0.1.0"))
}

/// `webhook(config, req)`: 0.1.0 has no subscription secret and no delivery id.
pub(super) async fn webhook(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = PluginState>,
    config: &[(String, String)],
    req: &m::WebhookRequest,
) -> super::CallResult<m::WebhookOutcome> {
    let req = p::WebhookRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: req.headers.clone(),
        body: req.body.clone(),
    };
    let api = p.tributary_provider_provider();
    typed(api.call_webhook(store, &config.to_vec(), &req).await, |o| {
        m::WebhookOutcome {
            verified: o.verified,
            delivery_id: None,
            account_id: o.account_id,
            changes: changes(o.changes),
            sync_requested: o.sync_requested,
            response: o.response.map(webhook_response),
        }
    })
}

/// `subscribe(config, callback)`.
pub(super) async fn subscribe(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = PluginState>,
    config: &[(String, String)],
    callback_url: &str,
) -> super::CallResult<m::Subscription> {
    let api = p.tributary_provider_provider();
    let r = api
        .call_subscribe(store, &config.to_vec(), callback_url)
        .await;
    typed(r, |s| m::Subscription {
        id: s.id,
        expires_at: s.expires_at,
        resource: None,
    })
}

/// `unsubscribe(config, id)`.
pub(super) async fn unsubscribe(
    p: &Plugin,
    store: impl wasmtime::AsContextMut<Data = PluginState>,
    config: &[(String, String)],
    id: &str,
) -> super::CallResult<()> {
    let api = p.tributary_provider_provider();
    typed(
        api.call_unsubscribe(store, &config.to_vec(), id).await,
        |()| (),
    )
}

/// A latest-version answer in this version's types.
fn back<T, U>(
    r: Result<T, super::latest::tributary::provider::types::Error>,
    f: impl FnOnce(T) -> U,
) -> Result<U, t::Error> {
    r.map(f).map_err(|e| m::PluginError::from(e).into())
}

impl o::types::Host for PluginState {}

impl o::http::Host for PluginState {
    async fn send(
        &mut self,
        req: o::http::Request,
    ) -> wasmtime::Result<Result<o::http::Response, t::Error>> {
        use l::http::Method as L;
        use o::http::Method as O;
        let method = match req.method {
            O::Get => L::Get,
            O::Head => L::Head,
            O::Post => L::Post,
            O::Put => L::Put,
            O::Patch => L::Patch,
            O::Delete => L::Delete,
        };
        let req = l::http::Request {
            method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            authenticate: req.authenticate,
            timeout_ms: req.timeout_ms,
        };
        let r = l::http::Host::send(self, req).await?;
        Ok(back(r, |r| o::http::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }))
    }
}

impl o::kv::Host for PluginState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, t::Error>> {
        Ok(back(l::kv::Host::get(self, key).await?, |v| v))
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), t::Error>> {
        Ok(back(l::kv::Host::set(self, key, value).await?, |v| v))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), t::Error>> {
        Ok(back(l::kv::Host::delete(self, key).await?, |v| v))
    }

    async fn list_keys(
        &mut self,
        prefix: String,
    ) -> wasmtime::Result<Result<Vec<String>, t::Error>> {
        Ok(back(l::kv::Host::list_keys(self, prefix).await?, |v| v))
    }
}

fn credential_info(c: l::tokens::CredentialInfo) -> o::tokens::CredentialInfo {
    use o::tokens::CredentialKind as O;
    o::tokens::CredentialInfo {
        kind: match c.kind {
            l::tokens::CredentialKind::Oauth2 => O::Oauth2,
            l::tokens::CredentialKind::ApiKey => O::ApiKey,
            l::tokens::CredentialKind::Basic => O::Basic,
        },
        scopes: c.scopes,
        expires_at: c.expires_at,
    }
}

impl o::tokens::Host for PluginState {
    async fn info(
        &mut self,
    ) -> wasmtime::Result<Result<Option<o::tokens::CredentialInfo>, t::Error>> {
        Ok(back(l::tokens::Host::info(self).await?, |c| {
            c.map(credential_info)
        }))
    }

    async fn refresh(&mut self) -> wasmtime::Result<Result<o::tokens::CredentialInfo, t::Error>> {
        Ok(back(l::tokens::Host::refresh(self).await?, credential_info))
    }

    async fn raw(&mut self) -> wasmtime::Result<Result<String, t::Error>> {
        Ok(back(l::tokens::Host::raw(self).await?, |s| s))
    }
}

impl o::secrets::Host for PluginState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, t::Error>> {
        Ok(back(l::secrets::Host::get(self, name).await?, |s| s))
    }
}

impl o::log::Host for PluginState {
    async fn log(&mut self, level: o::log::Level, message: String) -> wasmtime::Result<()> {
        use l::log::Level as L;
        use o::log::Level as O;
        let level = match level {
            O::Trace => L::Trace,
            O::Debug => L::Debug,
            O::Info => L::Info,
            O::Warn => L::Warn,
            O::Error => L::Error,
        };
        l::log::Host::log(self, level, message).await
    }
}
