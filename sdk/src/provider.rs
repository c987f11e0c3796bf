//! The [`Provider`] trait and the [`export!`](crate::export) macro that exposes it to the host.
use crate::{
    Account, Config, Content, Error, ListRequest, Manifest, Page, Subscription, WebhookOutcome,
    WebhookRequest,
};

/// A provider integration. Only [`manifest`](Provider::manifest), [`list`](Provider::list)
/// and [`fetch`](Provider::fetch) are required; the rest default to "not supported".
///
/// ```no_run
/// use tributary_sdk::prelude::*;
///
/// struct Notes;
/// impl Provider for Notes {
///     fn manifest() -> Manifest { ManifestBuilder::new("notes", "Notes").build() }
///     fn list(_: &Config, _: ListRequest) -> Result<Page, Error> { Ok(Page::last(vec![])) }
///     fn fetch(_: &Config, id: &str) -> Result<Content, Error> {
///         Err(Error::not_found(format!("no note {id}")))
///     }
/// }
/// ```
pub trait Provider {
    /// Describe the provider. Called once per load; must not call any import.
    fn manifest() -> Manifest;

    /// Verify the credentials and name the external account. Defaults to an anonymous
    /// account, right for providers that need no authentication.
    fn check(config: &Config) -> Result<Account, Error> {
        let _ = config;
        Ok(Account {
            id: "anonymous".into(),
            name: "anonymous".into(),
            email: None,
        })
    }

    /// One page of resources.
    fn list(config: &Config, req: ListRequest) -> Result<Page, Error>;

    /// One resource's content.
    fn fetch(config: &Config, id: &str) -> Result<Content, Error>;

    /// Verify and interpret a webhook call.
    fn webhook(config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        let _ = (config, req);
        Err(Error::invalid_input(
            "this provider does not accept webhooks",
        ))
    }

    /// Register a webhook that calls `callback_url`.
    fn subscribe(config: &Config, callback_url: &str) -> Result<Subscription, Error> {
        let _ = (config, callback_url);
        Err(Error::other("this provider cannot subscribe to webhooks"))
    }

    /// Remove a webhook registration.
    fn unsubscribe(config: &Config, id: &str) -> Result<(), Error> {
        let _ = (config, id);
        Err(Error::other("this provider cannot subscribe to webhooks"))
    }
}

/// Export a [`Provider`] as the plugin's implementation of `tributary:provider@0.1.0`.
///
/// ```no_run
/// use tributary_sdk::prelude::*;
/// struct P;
/// impl Provider for P {
///     fn manifest() -> Manifest { ManifestBuilder::new("p", "P").build() }
///     fn list(_: &Config, _: ListRequest) -> Result<Page, Error> { Ok(Page::last(vec![])) }
///     fn fetch(_: &Config, id: &str) -> Result<Content, Error> { Err(Error::not_found(id)) }
/// }
/// tributary_sdk::export!(P);
/// ```
#[macro_export]
macro_rules! export {
    ($provider:ty) => {
        #[doc(hidden)]
        pub struct __TributaryExport;

        impl $crate::__bindings::exports::tributary::provider::provider::Guest for __TributaryExport {
            fn manifest() -> $crate::Manifest {
                <$provider as $crate::Provider>::manifest()
            }
            fn check(config: ::std::vec::Vec<(String, String)>) -> Result<$crate::Account, $crate::Error> {
                <$provider as $crate::Provider>::check(&$crate::Config::from(config))
            }
            fn list(
                config: ::std::vec::Vec<(String, String)>,
                req: $crate::ListRequest,
            ) -> Result<$crate::Page, $crate::Error> {
                <$provider as $crate::Provider>::list(&$crate::Config::from(config), req)
            }
            fn fetch(config: ::std::vec::Vec<(String, String)>, id: String) -> Result<$crate::Content, $crate::Error> {
                <$provider as $crate::Provider>::fetch(&$crate::Config::from(config), &id)
            }
            fn webhook(
                config: ::std::vec::Vec<(String, String)>,
                req: $crate::WebhookRequest,
            ) -> Result<$crate::WebhookOutcome, $crate::Error> {
                <$provider as $crate::Provider>::webhook(&$crate::Config::from(config), req)
            }
            fn subscribe(
                config: ::std::vec::Vec<(String, String)>,
                callback_url: String,
            ) -> Result<$crate::Subscription, $crate::Error> {
                <$provider as $crate::Provider>::subscribe(&$crate::Config::from(config), &callback_url)
            }
            fn unsubscribe(config: ::std::vec::Vec<(String, String)>, id: String) -> Result<(), $crate::Error> {
                <$provider as $crate::Provider>::unsubscribe(&$crate::Config::from(config), &id)
            }
        }

        $crate::__bindings::__export_plugin_impl!(__TributaryExport with_types_in $crate::__bindings);
    };
}
