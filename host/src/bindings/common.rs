//! Conversions every WIT version shares: the records that did not change between versions,
//! written once as a macro expanded inside each version module (which names its generated
//! `t` (types) and `p` (provider) modules and its own `body`, `injection` and `auth`).

/// Expand the conversions of unchanged records in a version module.
macro_rules! common_conversions {
    () => {
        use crate::model as m;

        impl From<t::Error> for m::PluginError {
            fn from(e: t::Error) -> Self {
                match e {
                    t::Error::Unauthorized(s) => m::PluginError::Unauthorized(s),
                    t::Error::Forbidden(s) => m::PluginError::Forbidden(s),
                    t::Error::RateLimited(r) => m::PluginError::RateLimited(m::RateLimit {
                        retry_after_ms: r.retry_after_ms,
                        message: r.message,
                    }),
                    t::Error::NotFound(s) => m::PluginError::NotFound(s),
                    t::Error::Transient(s) => m::PluginError::Transient(s),
                    t::Error::InvalidConfig(s) => m::PluginError::InvalidConfig(s),
                    t::Error::InvalidInput(s) => m::PluginError::InvalidInput(s),
                    t::Error::Other(s) => m::PluginError::Other(s),
                }
            }
        }

        impl From<m::PluginError> for t::Error {
            fn from(e: m::PluginError) -> Self {
                match e {
                    m::PluginError::Unauthorized(s) => t::Error::Unauthorized(s),
                    m::PluginError::Forbidden(s) => t::Error::Forbidden(s),
                    m::PluginError::RateLimited(r) => t::Error::RateLimited(t::RateLimit {
                        retry_after_ms: r.retry_after_ms,
                        message: r.message,
                    }),
                    m::PluginError::NotFound(s) => t::Error::NotFound(s),
                    m::PluginError::Transient(s) => t::Error::Transient(s),
                    m::PluginError::InvalidConfig(s) => t::Error::InvalidConfig(s),
                    m::PluginError::InvalidInput(s) => t::Error::InvalidInput(s),
                    m::PluginError::Other(s) => t::Error::Other(s),
                }
            }
        }

        fn category(c: p::Category) -> m::Category {
            match c {
                p::Category::Storage => m::Category::Storage,
                p::Category::Productivity => m::Category::Productivity,
                p::Category::Communication => m::Category::Communication,
                p::Category::Development => m::Category::Development,
                p::Category::Crm => m::Category::Crm,
                p::Category::Social => m::Category::Social,
                p::Category::Media => m::Category::Media,
                p::Category::Other => m::Category::Other,
            }
        }

        fn client_auth(c: p::ClientAuth) -> m::ClientAuth {
            match c {
                p::ClientAuth::Basic => m::ClientAuth::Basic,
                p::ClientAuth::RequestBody => m::ClientAuth::RequestBody,
            }
        }

        fn config_field(f: p::ConfigField) -> m::ConfigField {
            m::ConfigField {
                key: f.key,
                label: f.label,
                help: f.help,
                kind: match f.kind {
                    p::FieldKind::Text => m::FieldKind::Text,
                    p::FieldKind::Url => m::FieldKind::Url,
                    p::FieldKind::Number => m::FieldKind::Number,
                    p::FieldKind::Boolean => m::FieldKind::Boolean,
                    p::FieldKind::Secret => m::FieldKind::Secret,
                },
                required: f.required,
                default: f.default,
            }
        }

        fn capabilities(c: p::Capabilities) -> m::Capabilities {
            m::Capabilities {
                pull: c.pull,
                incremental: c.incremental,
                webhooks: c.webhooks,
                subscribe: c.subscribe,
            }
        }

        fn rate_limits(r: p::RateLimits) -> m::RateLimits {
            m::RateLimits {
                requests_per_minute: r.requests_per_minute,
                requests_per_day: r.requests_per_day,
                concurrency: r.concurrency,
            }
        }

        fn routing(w: p::WebhookRouting) -> m::WebhookRouting {
            match w {
                p::WebhookRouting::None => m::WebhookRouting::None,
                p::WebhookRouting::PerIntegration => m::WebhookRouting::PerIntegration,
                p::WebhookRouting::PerApp => m::WebhookRouting::PerApp,
            }
        }

        fn permission(x: p::Permission) -> m::Permission {
            match x {
                p::Permission::RawToken => m::Permission::RawToken,
            }
        }

        /// The manifest in host types; `actions` (taken out by versions that have them) and
        /// the version are given.
        fn manifest_of(
            x: p::ProviderManifest,
            actions: Vec<m::Action>,
            wit_version: &'static str,
        ) -> m::Manifest {
            m::Manifest {
                id: x.id,
                name: x.name,
                description: x.description,
                icon: x.icon,
                category: category(x.category),
                version: x.version,
                auth: auth(x.auth),
                injection: injection(x.injection),
                capabilities: capabilities(x.capabilities),
                rate_limits: rate_limits(x.rate_limits),
                allowed_hosts: x.allowed_hosts,
                config: x.config.into_iter().map(config_field).collect(),
                webhook: routing(x.webhook),
                permissions: x.permissions.into_iter().map(permission).collect(),
                actions,
                wit_version,
            }
        }

        fn account(a: p::Account) -> m::Account {
            m::Account {
                id: a.id,
                name: a.name,
                email: a.email,
            }
        }

        fn content(c: p::Content) -> m::Content {
            m::Content {
                id: c.id,
                kind: c.kind,
                title: c.title,
                body: body(c.body),
                mime_type: c.mime_type,
                url: c.url,
                author: c.author.map(|a| m::Author {
                    id: a.id,
                    name: a.name,
                    email: a.email,
                }),
                created_at: c.created_at,
                updated_at: c.updated_at,
                metadata: c.metadata,
                content_hash: c.content_hash,
            }
        }

        fn page(pg: p::Page) -> m::Page {
            m::Page {
                resources: pg
                    .resources
                    .into_iter()
                    .map(|r| m::Resource {
                        id: r.id,
                        kind: r.kind,
                        title: r.title,
                        url: r.url,
                        modified_at: r.modified_at,
                        version: r.version,
                        parent_id: r.parent_id,
                        content: r.content.map(content),
                    })
                    .collect(),
                deleted: pg.deleted,
                next_cursor: pg.next_cursor,
                sync_token: pg.sync_token,
            }
        }

        fn list_request(r: &m::ListRequest) -> p::ListRequest {
            p::ListRequest {
                mode: match r.mode {
                    m::ListMode::Full => p::ListMode::Full,
                    m::ListMode::Incremental => p::ListMode::Incremental,
                },
                cursor: r.cursor.clone(),
                sync_token: r.sync_token.clone(),
                modified_after: r.modified_after,
                page_size: r.page_size,
            }
        }

        fn changes(c: Vec<p::Change>) -> Vec<m::Change> {
            c.into_iter()
                .map(|c| match c {
                    p::Change::Upsert(id) => m::Change::Upsert(id),
                    p::Change::Delete(id) => m::Change::Delete(id),
                })
                .collect()
        }

        fn webhook_response(r: p::WebhookResponse) -> m::WebhookResponse {
            m::WebhookResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }
        }

        fn typed<T, U>(
            r: wasmtime::Result<Result<T, t::Error>>,
            f: impl FnOnce(T) -> U,
        ) -> super::CallResult<U> {
            Ok(r?.map(f).map_err(Into::into))
        }

        /// `check(config)`.
        pub(super) async fn check(
            p: &Plugin,
            store: impl wasmtime::AsContextMut<Data = crate::runtime::PluginState>,
            config: &[(String, String)],
        ) -> super::CallResult<m::Account> {
            let api = p.tributary_provider_provider();
            typed(api.call_check(store, &config.to_vec()).await, account)
        }

        /// `list(config, req)`.
        pub(super) async fn list(
            p: &Plugin,
            store: impl wasmtime::AsContextMut<Data = crate::runtime::PluginState>,
            config: &[(String, String)],
            req: &m::ListRequest,
        ) -> super::CallResult<m::Page> {
            let api = p.tributary_provider_provider();
            typed(
                api.call_list(store, &config.to_vec(), &list_request(req))
                    .await,
                page,
            )
        }

        /// `fetch(config, id)`.
        pub(super) async fn fetch(
            p: &Plugin,
            store: impl wasmtime::AsContextMut<Data = crate::runtime::PluginState>,
            config: &[(String, String)],
            id: &str,
        ) -> super::CallResult<m::Content> {
            let api = p.tributary_provider_provider();
            typed(api.call_fetch(store, &config.to_vec(), id).await, content)
        }
    };
}
