//! Watching the plugins dir: filesystem events, debounced, trigger a rescan on tokio.

use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::Runtime;

/// Keeps the OS watch alive; dropping it stops watching.
pub(crate) struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
}

/// Quiet time after the last event before a rescan; long enough for a copy to finish.
const DEBOUNCE: Duration = Duration::from_millis(200);

impl Runtime {
    /// Watch the plugins dir and rescan on every (debounced) change, until the runtime
    /// is dropped.
    pub fn watch(&self) -> anyhow::Result<()> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        // One scan once the watch is up, for files that arrived since the last scan.
        let _ = tx.send(());
        let mut debouncer = new_debouncer(DEBOUNCE, move |res: DebounceEventResult| {
            if res.is_ok() {
                let _ = tx.send(());
            }
        })?;
        debouncer
            .watcher()
            .watch(self.plugins_dir(), RecursiveMode::NonRecursive)?;
        let weak = std::sync::Arc::downgrade(&self.0);
        tokio::spawn(async move {
            while rx.recv().await.is_some() {
                while rx.try_recv().is_ok() {}
                let Some(inner) = weak.upgrade() else { break };
                let rt = Runtime(inner);
                match rt.scan().await {
                    Ok(r)
                        if !(r.loaded.is_empty()
                            && r.refused.is_empty()
                            && r.removed.is_empty()) =>
                    {
                        tracing::info!(loaded = ?r.loaded, refused = r.refused.len(), removed = ?r.removed, "plugins dir rescanned");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "plugins dir scan failed"),
                }
            }
        });
        *self.0.watcher.lock().expect("watcher lock") = Some(Watcher {
            _debouncer: debouncer,
        });
        Ok(())
    }
}
