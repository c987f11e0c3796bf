//! `log`: plugin log lines into `tracing`, tagged with plugin and integration, truncated
//! so a plugin cannot flood the host's logs with huge lines.

use crate::bindings::tributary::provider::log::{Host, Level};
use crate::runtime::PluginState;

/// Longest message kept, in bytes.
const MAX_MESSAGE: usize = 4096;

impl Host for PluginState {
    async fn log(&mut self, level: Level, mut message: String) -> wasmtime::Result<()> {
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = self.call.provider_id();
        let integration = self
            .call
            .integration
            .as_ref()
            .map(|i| i.id.as_str())
            .unwrap_or("-");
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, integration, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, integration, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, integration, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, integration, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, integration, "{message}"),
        }
        Ok(())
    }
}
