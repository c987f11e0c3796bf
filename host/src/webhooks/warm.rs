//! Warm plugin instances for webhook verification. Instantiating a plugin and tearing
//! it down costs more than verifying one delivery, so an instance that answered a
//! delivery is kept, briefly and boundedly, for the next delivery of the same plugin
//! version and integration. The plugin sees nothing it would not see anyway: the same
//! integration's deliveries, with the same config and permissions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::{WebhookOutcome, WebhookRequest};
use crate::runtime::{CallError, Integration, Runtime, Session};

/// How long an idle instance is kept (it holds a slot of the instance pool).
pub const MAX_IDLE: Duration = Duration::from_secs(5);
/// Deliveries one instance verifies before it is replaced (what a plugin leaks stays
/// bounded, and a long-lived instance is not a place to keep state).
const MAX_CALLS: u32 = 1_000;
/// Idle instances kept over all plugins and integrations: verification is CPU work
/// without waits, so a few per core cover any number of connections, and the rest of
/// the pool stays free for sync workers.
const MAX_KEPT: usize = 8;

/// Which deliveries an instance may verify.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    provider: String,
    integration: Option<String>,
}

struct Kept {
    session: Session,
    calls: u32,
    idle_since: Instant,
}

/// Idle webhook instances, by provider and integration.
#[derive(Default)]
pub struct Warm {
    idle: Mutex<HashMap<Key, Vec<Kept>>>,
    started: AtomicU64,
}

impl Warm {
    /// Verify `req` with a warm instance of `provider` for `integration`, or a new one;
    /// the instance is kept afterwards only when the call succeeded.
    pub async fn webhook(
        &self,
        runtime: &Runtime,
        provider: &str,
        integration: Option<Integration>,
        req: &WebhookRequest,
    ) -> Result<WebhookOutcome, CallError> {
        let key = Key {
            provider: provider.to_string(),
            integration: integration.as_ref().map(|i| i.id.clone()),
        };
        let config = integration.as_ref().map(|i| i.config.as_slice());
        let (mut session, calls) = match self.take(runtime, &key, config) {
            Some(kept) => (kept.session, kept.calls),
            None => {
                self.started.fetch_add(1, Ordering::Relaxed);
                (runtime.session(provider, integration).await?, 0)
            }
        };
        let outcome = session.webhook(req).await?;
        // Kept only while most of the pool is free: sync workers come first.
        let pool = runtime.limits().pool_instances as usize;
        if calls + 1 < MAX_CALLS && runtime.instances_in_use() * 2 <= pool {
            self.keep(key, session, calls + 1);
        }
        Ok(outcome)
    }

    /// An idle instance of the plugin version loaded now, with the same config.
    fn take(
        &self,
        runtime: &Runtime,
        key: &Key,
        config: Option<&[(String, String)]>,
    ) -> Option<Kept> {
        let current = runtime.get(&key.provider)?;
        let mut stale = Vec::new();
        let found = {
            let mut idle = self.idle.lock().expect("warm instances");
            let list = idle.get_mut(key)?;
            let mut found = None;
            while let Some(kept) = list.pop() {
                // A swapped plugin or a changed config is a different instance.
                if kept.idle_since.elapsed() < MAX_IDLE
                    && Arc::ptr_eq(kept.session.plugin(), &current)
                    && kept.session.config() == config.unwrap_or_default()
                {
                    found = Some(kept);
                    break;
                }
                stale.push(kept);
            }
            found
        };
        // Torn down outside the lock.
        drop(stale);
        found
    }

    fn keep(&self, key: Key, session: Session, calls: u32) {
        let mut idle = self.idle.lock().expect("warm instances");
        if idle.values().map(Vec::len).sum::<usize>() >= MAX_KEPT {
            return; // dropped: its pool slot goes back
        }
        idle.entry(key).or_default().push(Kept {
            session,
            calls,
            idle_since: Instant::now(),
        });
    }

    /// Drop instances idle for `max_idle` or longer, giving their pool slots back.
    pub fn sweep(&self, max_idle: Duration) {
        let stale: Vec<Kept> = {
            let mut idle = self.idle.lock().expect("warm instances");
            let mut stale = Vec::new();
            for list in idle.values_mut() {
                let (old, young): (Vec<_>, Vec<_>) = std::mem::take(list)
                    .into_iter()
                    .partition(|k| k.idle_since.elapsed() >= max_idle);
                *list = young;
                stale.extend(old);
            }
            idle.retain(|_, list| !list.is_empty());
            stale
        };
        // Dropped outside the lock: tearing an instance down takes a moment.
        drop(stale);
    }

    /// Instances started for deliveries since the host started.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Idle instances kept now.
    pub fn kept(&self) -> usize {
        self.idle
            .lock()
            .expect("warm instances")
            .values()
            .map(Vec::len)
            .sum()
    }
}
