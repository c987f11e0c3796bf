//! The REST API: `app(state)` builds the router and its OpenAPI document from the same
//! route list (utoipa-axum), so the document cannot drift from the routes. One module per
//! resource.

mod actions;
mod admin;
pub mod auth;
mod body;
mod connect;
mod error;
mod events;
mod health;
mod integration_views;
pub mod integrations;
mod orgs;
mod plugins;
mod search;
pub mod session;
mod settings;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use body::Payload;
pub use error::ApiError;
pub use plugins::PluginView;
pub use session::SignIn;

use crate::crypto::Keyring;
use crate::db::Db;
use crate::runtime::Runtime;
use crate::vault::Vault;

/// Largest request body outside plugin uploads.
pub const MAX_BODY: usize = 1 << 20;
/// Largest plugin upload.
pub const MAX_PLUGIN_UPLOAD: usize = 64 << 20;

/// Public addresses the API puts in links.
#[derive(Debug, Clone)]
pub struct Urls {
    /// Base URL of this server as browsers and providers reach it (OAuth redirect URIs).
    pub public: String,
    /// Where the browser lands after an OAuth callback.
    pub frontend: String,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The plugin runtime (and through it the host services).
    pub runtime: Runtime,
    /// Sealed credentials.
    pub vault: Arc<Vault>,
    /// Encryption keys.
    pub keyring: Arc<Keyring>,
    /// Public URLs.
    pub urls: Arc<Urls>,
    /// Ingestion and search.
    pub ingest: Arc<crate::ingest::Ingestor>,
    /// The webhook delivery log.
    pub webhooks: Arc<crate::webhooks::Intake>,
    /// Browser sessions and bearer JWTs.
    pub sign_in: Arc<SignIn>,
}

impl AppState {
    /// The database.
    pub fn db(&self) -> &Db {
        &self.runtime.services().db
    }

    /// Webhook subscriptions, with callbacks under the public URL.
    pub fn subscriptions(&self) -> crate::webhooks::Subscriptions {
        crate::webhooks::Subscriptions::new(
            self.runtime.clone(),
            &self.urls.public,
            self.keyring.clone(),
        )
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Tributary", description = "Sync knowledge from the services you use into a searchable index."),
    components(schemas(crate::db::SyncJob, error::ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A token from the configured issuer (TRIBUTARY_JWT_*)"))
                    .build(),
            ),
        );
        // Browser sessions: the cookie, plus `X-CSRF-Token` (from /api/auth/session) on
        // every write.
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "trb_session",
                "Set by /api/auth/login (`__Host-trb_session` over HTTPS); writes also send X-CSRF-Token",
            ))),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new("api_key", Vec::<String>::new()),
            SecurityRequirement::new("jwt", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
}

/// The documented routes and their OpenAPI document.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use self::{admin as a, connect as c, integrations as i, plugins as p, webhooks as w};
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(session::login))
        .routes(routes!(session::link))
        .routes(routes!(session::current))
        .routes(routes!(session::logout))
        .routes(routes!(session::password))
        .routes(routes!(orgs::list))
        .routes(routes!(orgs::members, orgs::put_member))
        .routes(routes!(orgs::delete_member))
        .routes(routes!(i::list_available))
        .routes(routes!(i::list_connected))
        .routes(routes!(i::get_details, i::delete_integration))
        .routes(routes!(c::post_connect))
        .routes(routes!(c::get_callback))
        .routes(routes!(i::put_config))
        .routes(routes!(i::post_sync))
        .routes(routes!(i::post_pause))
        .routes(routes!(i::post_resume))
        .routes(routes!(actions::post_action))
        .routes(routes!(actions::org_post_action))
        .routes(routes!(i::org_list_available))
        .routes(routes!(i::org_list_connected))
        .routes(routes!(i::org_get_details, i::org_delete_integration))
        .routes(routes!(c::org_post_connect))
        .routes(routes!(c::org_get_callback))
        .routes(routes!(i::org_put_config))
        .routes(routes!(i::org_post_sync))
        .routes(routes!(i::org_post_pause))
        .routes(routes!(i::org_post_resume))
        .routes(routes!(a::get_integrations))
        .routes(routes!(a::get_registry))
        .routes(routes!(a::put_registry))
        .routes(routes!(a::get_sync_jobs))
        .routes(routes!(a::get_sync_job))
        .routes(routes!(a::post_retry_job))
        .routes(routes!(a::get_stats))
        .routes(routes!(a::get_deliveries))
        .routes(routes!(a::get_oauth_client, a::put_oauth_client))
        .routes(routes!(p::list, p::install))
        .routes(routes!(p::show, p::remove))
        .routes(routes!(p::get_settings, p::put_settings))
        .routes(routes!(events::stream))
        .routes(routes!(search::get_search, search::post_search))
        .routes(routes!(w::per_app))
        .routes(routes!(w::per_integration))
        .routes(routes!(health::health))
        .routes(routes!(health::metrics))
        .split_for_parts()
}

/// The application router.
pub fn app(state: AppState) -> Router {
    let (router, doc) = routes();
    let doc = Arc::new(doc);
    router
        .route(
            "/api/openapi.json",
            get(move || async move { axum::Json(doc.as_ref().clone()) }),
        )
        .merge(crate::ui::router())
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        // Plugin uploads read their (larger) body themselves, capped at MAX_PLUGIN_UPLOAD.
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(crate::ui::security_headers))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of one request: method and path, never the query, which carries secrets on
/// some routes (the Gmail push token, OAuth callback codes).
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, SubscriberExt};

    struct Fields(Arc<Mutex<String>>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let mut all = self.0.lock().unwrap();
            all.push_str(&format!("{}={value:?} ", field.name()));
        }
    }

    struct Capture(Arc<Mutex<String>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::span::Id,
            _: Context<'_, S>,
        ) {
            attrs.record(&mut Fields(self.0.clone()));
        }
    }

    #[test]
    fn works_when_request_spans_leave_the_query_out() {
        let seen = Arc::new(Mutex::new(String::new()));
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::TRACE)
            .with(Capture(seen.clone()));
        let req =
            axum::http::Request::post("/api/webhooks/integrations/gmail?token=9f1c2e7a55d04b")
                .body(())
                .unwrap();
        tracing::subscriber::with_default(subscriber, || drop(super::request_span(&req)));
        let seen = seen.lock().unwrap().clone();
        assert!(seen.contains("/api/webhooks/integrations/gmail"), "{seen}");
        assert!(!seen.contains("9f1c2e7a55d04b"), "{seen}");
    }
}
