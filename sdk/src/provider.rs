//! The [`Provider`] trait and the [`export!`](crate::export) macro that exposes it to the host.
use crate::{
    Account, Config, Content, Error, ListRequest, Manifest, Page, Subscription, WebhookOutcome,
    WebhookRequest,
};

/// A provider integration. Only [`manifest`](Provider::manifest), [`list`](Provider::list)
/// and [`fetch`](Provider::fetch) are required; the rest default to "not supported".
///
/// The host runs one instance of the plugin per job (a walk, a fetch, a webhook call), so
/// a provider value lives exactly that long: keep per-job state (a cached user id, a page
/// of prefetched items) in its fields, never in globals. It starts as `Default::default()`.
///
/// ```no_run
/// use tributary_sdk::prelude::*;
///
/// #[derive(Default)]
/// struct Notes {
///     /// Pages listed in this job (state for the job's length).
///     pages: u32,
/// }
///
/// impl Provider for Notes {
///     fn manifest() -> Manifest { ManifestBuilder::new("notes", "Notes").build() }
///     fn list(&mut self, _: &Config, _: ListRequest) -> Result<Page, Error> {
///         self.pages += 1;
///         Ok(Page::last(vec![]))
///     }
///     fn fetch(&mut self, _: &Config, id: &str) -> Result<Content, Error> {
///         Err(Error::not_found(format!("no note {id}")))
///     }
/// }
/// ```
pub trait Provider: Default + Send + 'static {
    /// Describe the provider. Called once per load; must not call any import.
    fn manifest() -> Manifest;

    /// Verify the credentials and name the external account. Defaults to an anonymous
    /// account, right for providers that need no authentication.
    fn check(&mut self, config: &Config) -> Result<Account, Error> {
        let _ = config;
        Ok(Account {
            id: "anonymous".into(),
            name: "anonymous".into(),
            email: None,
        })
    }

    /// One page of resources.
    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error>;

    /// One resource's content.
    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error>;

    /// Verify and interpret a webhook call.
    fn webhook(&mut self, config: &Config, req: WebhookRequest) -> Result<WebhookOutcome, Error> {
        let _ = (config, req);
        Err(Error::invalid_input(
            "this provider does not accept webhooks",
        ))
    }

    /// Register a webhook that calls `callback_url`. `secret` is random and kept sealed
    /// by the host; use it as the hook's signing secret or channel token, and compare
    /// against `req.subscription_secret` in [`webhook`](Provider::webhook).
    fn subscribe(
        &mut self,
        config: &Config,
        callback_url: &str,
        secret: &str,
    ) -> Result<Subscription, Error> {
        let _ = (config, callback_url, secret);
        Err(Error::other("this provider cannot subscribe to webhooks"))
    }

    /// Remove a webhook registration made by [`subscribe`](Provider::subscribe).
    fn unsubscribe(&mut self, config: &Config, subscription: &Subscription) -> Result<(), Error> {
        let _ = (config, subscription);
        Err(Error::other("this provider cannot subscribe to webhooks"))
    }

    /// Run a declared action (see [`ManifestBuilder::action`](crate::ManifestBuilder::action)).
    /// The host has validated `input` against the action's schema; only an explicit API
    /// call by a user runs it, never a sync.
    fn run_action(
        &mut self,
        config: &Config,
        name: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let _ = (config, input);
        Err(Error::not_found(format!("no action `{name}`")))
    }
}

#[doc(hidden)]
pub mod __private {
    //! What [`export!`](crate::export) expands to calls into.
    use std::sync::Mutex;

    /// Run `f` on the instance in `slot`, creating it first; the slot lives as long as the
    /// component instance, which the host keeps for one job.
    pub fn with<P: super::Provider, R>(slot: &Mutex<Option<P>>, f: impl FnOnce(&mut P) -> R) -> R {
        // A panic inside a call traps the instance; the host never enters it again, so a
        // poisoned lock is never seen by a later call.
        let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
        f(guard.get_or_insert_with(P::default))
    }

    /// Parse the host's JSON input, call, and render the answer.
    pub fn action<P: super::Provider>(
        p: &mut P,
        config: &crate::Config,
        name: &str,
        input: &str,
    ) -> Result<String, crate::Error> {
        let input = serde_json::from_str(input)
            .map_err(|e| crate::Error::invalid_input(format!("action input is not JSON: {e}")))?;
        let output = p.run_action(config, name, input)?;
        Ok(output.to_string())
    }
}

/// Export a [`Provider`] as the plugin's implementation of `tributary:provider@0.2.0`.
///
/// ```no_run
/// use tributary_sdk::prelude::*;
/// #[derive(Default)]
/// struct P;
/// impl Provider for P {
///     fn manifest() -> Manifest { ManifestBuilder::new("p", "P").build() }
///     fn list(&mut self, _: &Config, _: ListRequest) -> Result<Page, Error> { Ok(Page::last(vec![])) }
///     fn fetch(&mut self, _: &Config, id: &str) -> Result<Content, Error> { Err(Error::not_found(id)) }
/// }
/// tributary_sdk::export!(P);
/// ```
#[macro_export]
macro_rules! export {
    ($provider:ty) => {
        #[doc(hidden)]
        pub struct __TributaryExport;

        #[doc(hidden)]
        static __TRIBUTARY_INSTANCE: ::std::sync::Mutex<::std::option::Option<$provider>> =
            ::std::sync::Mutex::new(None);

        impl $crate::__bindings::exports::tributary::provider::provider::Guest for __TributaryExport {
            fn manifest() -> $crate::Manifest {
                <$provider as $crate::Provider>::manifest()
            }
            fn check(config: ::std::vec::Vec<(String, String)>) -> Result<$crate::Account, $crate::Error> {
                $crate::provider::__private::with(&__TRIBUTARY_INSTANCE, |p| {
                    $crate::Provider::check(p, &$crate::Config::from(config))
                })
            }
            fn list(
                config: ::std::vec::Vec<(String, String)>,
                req: $crate::ListRequest,
            ) -> Result<$crate::Page, $crate::Error> {
                $crate::provider::__private::with(&__TRIBUTARY_INSTANCE, |p| {
                    $crate::Provider::list(p, &$crate::Config::from(config), req)
                })
            }
            fn fetch(config: ::std::vec::Vec<(String, String)>, id: String) -> Result<$crate::Content, $crate::Error> {
                $crate::provider::__private::with(&__TRIBUTARY_INSTANCE, |p| {
                    $crate::Provider::fetch(p, &$crate::Config::from(config), &id)
                })
            }
            fn webhook(
                config: ::std::vec::Vec<(String, String)>,
                req: $crate::WebhookRequest,
            ) -> Result<$crate::WebhookOutcome, $crate::Error> {
                $crate::provider::__private::with(&__TRIBUTARY_INSTANCE, |p| {
                    $crate::Provider::webhook(p, &$crate::Config::from(config), req)
                })
            }
            fn subscribe(
                config: ::std::vec::Vec<(String, String)>,
                callback_url: String,
                secret: String,
            ) -> Result<$crate::Subscription, $crate::Error> {
                $crate::provider::__private::with(&__TRIBUTARY_INSTANCE, |p| {
                    $crate::Provider::subscribe(p, &$crate::Config::from(config), &callback_url, &secret)
                })
            }
            fn unsubscribe(
                config: ::std::vec::Vec<(String, String)>,
                subscription: $crate::Subscription,
            ) -> Result<(), $crate::Error> {
                $crate::provider::__private::with(&__TRIBUTARY_INSTANCE, |p| {
                    $crate::Provider::unsubscribe(p, &$crate::Config::from(config), &subscription)
                })
            }
            fn run_action(
                config: ::std::vec::Vec<(String, String)>,
                name: String,
                input: String,
            ) -> Result<String, $crate::Error> {
                $crate::provider::__private::with(&__TRIBUTARY_INSTANCE, |p| {
                    $crate::provider::__private::action(p, &$crate::Config::from(config), &name, &input)
                })
            }
        }

        $crate::__bindings::__export_plugin_impl!(__TributaryExport with_types_in $crate::__bindings);
    };
}
