//! A [`Session`]: one `Store` and one instance of a plugin for one job. Every export call
//! is fenced: wall-time deadline, memory limit, trap capture and result validation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::engine::Limits;
use super::error::CallError;
use super::state::{Integration, PluginState};
use super::{LoadedPlugin, validate};
use crate::bindings::Instance;
use crate::model::{
    Account, Body, Content, ListRequest, Manifest, Page, PluginError, Subscription, WebhookOutcome,
    WebhookRequest,
};
use crate::services::Services;

/// Marker error the epoch callback raises when a call's deadline passed.
#[derive(Debug)]
struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wall-time deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// A live instance of one plugin, for one integration (or none), used for one job.
pub struct Session {
    store: Store<PluginState>,
    bindings: Instance,
    plugin: Arc<LoadedPlugin>,
    limits: Limits,
    config: Vec<(String, String)>,
    /// Set after a trap: the instance may not be entered again.
    broken: Option<String>,
    /// This session's slot in the instance pool, given back on drop.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Session {
    pub(crate) async fn start(
        plugin: Arc<LoadedPlugin>,
        limits: &Limits,
        services: Arc<Services>,
        integration: Option<Integration>,
        slots: Arc<tokio::sync::Semaphore>,
    ) -> Result<Session, CallError> {
        // A full pool makes the caller wait (bounded) for a slot instead of failing: a
        // webhook arriving while sync workers hold instances is served a moment later.
        let slot = tokio::time::timeout(limits.pool_wait, slots.acquire_owned())
            .await
            .map_err(|_| CallError::Instantiate {
                plugin: plugin.manifest.id.clone(),
                message: format!(
                    "all {} plugin instance slots stayed busy for {:?}",
                    limits.pool_instances, limits.pool_wait
                ),
            })?
            .expect("the pool semaphore is never closed");
        let config = integration
            .as_ref()
            .map(|i| i.config.clone())
            .unwrap_or_default();
        let state = PluginState::new(limits, plugin.manifest.clone(), integration, services);
        let (store, bindings) = instantiate(&plugin, limits, state).await?;
        Ok(Session {
            store,
            bindings,
            plugin,
            limits: limits.clone(),
            config,
            broken: None,
            _slot: slot,
        })
    }

    /// Replace an instance a trap left unusable with a fresh one of the same plugin
    /// version, integration and pool slot: one resource that crashes the plugin fails
    /// alone instead of ending the walk.
    pub async fn restart(&mut self) -> Result<(), CallError> {
        let call = self.store.data().call.clone();
        let state = PluginState::new(
            &self.limits,
            call.manifest.clone(),
            call.integration.clone(),
            call.services.clone(),
        );
        let (store, bindings) = instantiate(&self.plugin, &self.limits, state).await?;
        self.store = store;
        self.bindings = bindings;
        self.broken = None;
        Ok(())
    }

    /// The plugin this session runs.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// The integration config its calls pass (empty outside an integration).
    pub fn config(&self) -> &[(String, String)] {
        &self.config
    }

    fn arm(&mut self) -> Result<(), CallError> {
        if let Some(msg) = &self.broken {
            return Err(CallError::Trap {
                plugin: self.plugin.manifest.id.clone(),
                message: format!("instance unusable after an earlier failure: {msg}"),
            });
        }
        self.store.data_mut().deadline = Instant::now() + self.limits.call_timeout;
        Ok(())
    }

    /// Turn the outcome of one export call into a typed result.
    fn settle<T>(
        &mut self,
        outcome: Result<wasmtime::Result<Result<T, PluginError>>, tokio::time::error::Elapsed>,
        check: impl FnOnce(&T) -> Result<(), String>,
    ) -> Result<T, CallError> {
        let plugin = self.plugin.manifest.id.clone();
        let err = match outcome {
            // A malformed value leaves the instance sound: it may be called again.
            Ok(Ok(Ok(v))) => {
                return match check(&v) {
                    Ok(()) => Ok(v),
                    Err(reason) => Err(CallError::Malformed { plugin, reason }),
                };
            }
            Ok(Ok(Err(e))) => return Err(CallError::Plugin(e)),
            Err(_) => CallError::Timeout {
                plugin,
                limit: self.limits.call_timeout,
            },
            Ok(Err(trap)) => self.classify_trap(plugin, trap),
        };
        self.broken = Some(err.to_string());
        Err(err)
    }

    fn classify_trap(&self, plugin: String, trap: wasmtime::Error) -> CallError {
        if trap.downcast_ref::<DeadlineExceeded>().is_some()
            || matches!(trap.downcast_ref::<Trap>(), Some(Trap::Interrupt))
        {
            return CallError::Timeout {
                plugin,
                limit: self.limits.call_timeout,
            };
        }
        let text = format!("{trap:#}");
        if text.contains("memory") && (text.contains("grow") || text.contains("limit")) {
            return CallError::MemoryLimit {
                plugin,
                limit: self.limits.memory_bytes,
            };
        }
        let stderr = String::from_utf8_lossy(&self.store.data().stderr.contents())
            .trim()
            .to_string();
        let cause = trap_cause(&trap);
        let message = if stderr.is_empty() {
            cause
        } else {
            format!("{cause}; plugin said: {stderr}")
        };
        CallError::Trap { plugin, message }
    }

    fn budget(&self) -> Duration {
        // A backstop above the epoch deadline, for time spent inside host calls.
        self.limits.call_timeout + Duration::from_secs(1)
    }
}

/// The cause of a trap in words: wasmtime's own text ("error while executing at wasm
/// backtrace:") names no cause, the `Trap` code in the error chain does.
fn trap_cause(trap: &wasmtime::Error) -> String {
    let code = trap.chain().find_map(|e| e.downcast_ref::<Trap>().copied());
    match code {
        Some(Trap::StackOverflow) => {
            "stack overflow (call stack exhausted, e.g. unbounded recursion)".into()
        }
        Some(Trap::MemoryOutOfBounds) => "out-of-bounds memory access".into(),
        Some(Trap::HeapMisaligned) => "misaligned memory access".into(),
        Some(Trap::TableOutOfBounds) => "out-of-bounds table access".into(),
        Some(Trap::IndirectCallToNull) => "indirect call to a null table entry".into(),
        Some(Trap::BadSignature) => "indirect call with the wrong signature".into(),
        Some(Trap::IntegerOverflow) => "integer overflow".into(),
        Some(Trap::IntegerDivisionByZero) => "integer divide by zero".into(),
        Some(Trap::BadConversionToInteger) => "invalid float to integer conversion".into(),
        Some(Trap::UnreachableCodeReached) => {
            "unreachable instruction executed (a Rust panic or abort ends this way)".into()
        }
        Some(other) => format!("wasm trap: {other}"),
        None => {
            // Not a wasm trap: a host-side error raised inside the call. Its innermost
            // message is the cause; the outer ones are backtrace framing.
            let root = trap.root_cause().to_string();
            let root = root.lines().next().unwrap_or("trap").trim();
            if root.is_empty() {
                "trap".into()
            } else {
                root.to_string()
            }
        }
    }
}

/// A store under the session limits and a new instance of `plugin` in it.
async fn instantiate(
    plugin: &Arc<LoadedPlugin>,
    limits: &Limits,
    state: PluginState,
) -> Result<(Store<PluginState>, Instance), CallError> {
    let mut store = Store::new(plugin.pre.engine(), state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(1);
    // Each tick, yield to tokio (a looping plugin never blocks a worker thread) and end
    // the call once its deadline has passed.
    store.epoch_deadline_callback(|ctx| {
        if Instant::now() >= ctx.data().deadline {
            return Err(DeadlineExceeded.into());
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store.data_mut().deadline = Instant::now() + limits.call_timeout;
    let bindings = plugin
        .pre
        .instantiate_async(&mut store)
        .await
        .map_err(|e| CallError::Instantiate {
            plugin: plugin.manifest.id.clone(),
            message: format!("{e:#}"),
        })?;
    Ok((store, bindings))
}

impl Drop for Session {
    fn drop(&mut self) {
        // Log lines the budget dropped and no later line reported: one line now.
        let call = &self.store.data().call;
        let integration = call
            .integration
            .as_ref()
            .map(|i| i.id.as_str())
            .unwrap_or("-");
        if let Some(d) = call
            .services
            .log_budget
            .take_dropped(call.provider_id(), integration)
        {
            crate::caps::log::report_dropped(call.provider_id(), integration, d);
        }
    }
}

macro_rules! fenced {
    ($self:ident, $check:expr, $method:ident $(, $arg:expr)*) => {{
        $self.arm()?;
        let budget = $self.budget();
        let started = Instant::now();
        let outcome = tokio::time::timeout(budget, $self.bindings.$method(&mut $self.store $(, $arg)*)).await;
        crate::metrics::plugin_call(&$self.plugin.manifest.id, stringify!($method), started.elapsed());
        $self.settle(outcome, $check)
    }};
}

impl Session {
    /// Call `manifest()`.
    pub async fn manifest(&mut self) -> Result<Manifest, CallError> {
        self.arm()?;
        let budget = self.budget();
        let outcome =
            tokio::time::timeout(budget, self.bindings.call_manifest(&mut self.store)).await;
        self.settle(outcome.map(|r| r.map(Ok)), validate::manifest)
    }

    /// Call `check()`.
    pub async fn check(&mut self) -> Result<Account, CallError> {
        fenced!(self, validate::account, call_check, &self.config)
    }

    /// Call `list()`; inline contents with a `download` body come back downloaded.
    pub async fn list(&mut self, req: &ListRequest) -> Result<Page, CallError> {
        let mut page = fenced!(self, validate::page, call_list, &self.config, req)?;
        for r in &mut page.resources {
            if let Some(c) = &mut r.content
                && self.resolve_download(c).await.is_err()
            {
                // One download must not fail the page: without inline content the walk
                // fetches the resource on its own, and its failure is that resource's.
                r.content = None;
            }
        }
        Ok(page)
    }

    /// Call `fetch()`; a `download` body comes back downloaded.
    pub async fn fetch(&mut self, id: &str) -> Result<Content, CallError> {
        let mut content = fenced!(self, validate::content, call_fetch, &self.config, id)?;
        self.resolve_download(&mut content).await?;
        Ok(content)
    }

    /// Replace a `download` body by the bytes the host fetched (allow-listed, capped).
    async fn resolve_download(&mut self, content: &mut Content) -> Result<(), CallError> {
        if let Body::Download(d) = &content.body {
            let call = self.store.data().call.clone();
            let started = Instant::now();
            let bytes = call.download(d).await.map_err(CallError::Plugin)?;
            crate::metrics::plugin_call(&self.plugin.manifest.id, "download", started.elapsed());
            content.body = Body::Bytes(bytes);
        }
        Ok(())
    }

    /// Call `webhook()`.
    pub async fn webhook(&mut self, req: &WebhookRequest) -> Result<WebhookOutcome, CallError> {
        fenced!(self, validate::webhook, call_webhook, &self.config, req)
    }

    /// Call `subscribe()` with the subscription's secret (0.1.0 plugins do not get it).
    pub async fn subscribe(
        &mut self,
        callback_url: &str,
        secret: &str,
    ) -> Result<Subscription, CallError> {
        fenced!(
            self,
            validate::subscription,
            call_subscribe,
            &self.config,
            callback_url,
            secret
        )
    }

    /// Call `unsubscribe()`.
    pub async fn unsubscribe(&mut self, subscription: &Subscription) -> Result<(), CallError> {
        fenced!(
            self,
            |_: &()| Ok(()),
            call_unsubscribe,
            &self.config,
            subscription
        )
    }

    /// Call `run-action()` with JSON `input`; the answer must be JSON too.
    pub async fn run_action(&mut self, name: &str, input: &str) -> Result<String, CallError> {
        fenced!(
            self,
            |s: &String| validate::action_output(s),
            call_run_action,
            &self.config,
            name,
            input
        )
    }
}
