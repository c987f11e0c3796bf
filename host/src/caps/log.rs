//! `log`: plugin log lines into `tracing`, tagged with plugin and integration. Each
//! (plugin, integration) has a budget of lines and bytes (token buckets): a plugin that
//! floods is cut off, and what was dropped is reported in one line when its session ends
//! (or, for a session that lives long, at most every [`REPORT_EVERY`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::bindings::latest::tributary::provider::log::{Host, Level};
use crate::runtime::PluginState;

/// Longest message kept, in bytes.
const MAX_MESSAGE: usize = 4096;
/// Longest a drop goes unreported while a session lives.
pub const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Log budget of one (plugin, integration): bursts and refill rates.
#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    /// Lines that may come at once.
    pub burst_lines: f64,
    /// Lines per second after the burst.
    pub lines_per_sec: f64,
    /// Bytes that may come at once.
    pub burst_bytes: f64,
    /// Bytes per second after the burst.
    pub bytes_per_sec: f64,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            burst_lines: 200.0,
            lines_per_sec: 20.0,
            burst_bytes: 256.0 * 1024.0,
            bytes_per_sec: 16.0 * 1024.0,
        }
    }
}

struct Bucket {
    lines: f64,
    bytes: f64,
    at: Instant,
    dropped_lines: u64,
    dropped_bytes: u64,
    reported_at: Instant,
}

/// Admitted and dropped lines, per (plugin, integration), for the whole process.
#[derive(Default)]
pub struct LogBudget {
    limits: LogLimits,
    buckets: Mutex<HashMap<(String, String), Bucket>>,
}

/// What the budget decided for one line.
pub struct Admit {
    /// Write the line.
    pub write: bool,
    /// Lines and bytes dropped before it, to report first.
    pub dropped: Option<(u64, u64)>,
}

impl LogBudget {
    /// A budget with these limits.
    pub fn new(limits: LogLimits) -> Self {
        LogBudget {
            limits,
            buckets: Mutex::default(),
        }
    }

    /// Spend one line of `len` bytes.
    pub fn admit(&self, plugin: &str, integration: &str, len: usize) -> Admit {
        let l = self.limits;
        let mut all = self.buckets.lock().expect("log budget lock");
        let b = all
            .entry((plugin.to_string(), integration.to_string()))
            .or_insert_with(|| Bucket {
                lines: l.burst_lines,
                bytes: l.burst_bytes,
                at: Instant::now(),
                dropped_lines: 0,
                dropped_bytes: 0,
                reported_at: Instant::now(),
            });
        let secs = b.at.elapsed().as_secs_f64();
        b.at = Instant::now();
        b.lines = (b.lines + secs * l.lines_per_sec).min(l.burst_lines);
        b.bytes = (b.bytes + secs * l.bytes_per_sec).min(l.burst_bytes);
        if b.lines >= 1.0 && b.bytes >= len as f64 {
            b.lines -= 1.0;
            b.bytes -= len as f64;
            let dropped = if b.reported_at.elapsed() >= REPORT_EVERY {
                take(b)
            } else {
                None
            };
            Admit {
                write: true,
                dropped,
            }
        } else {
            b.dropped_lines += 1;
            b.dropped_bytes += len as u64;
            Admit {
                write: false,
                dropped: None,
            }
        }
    }

    /// Lines and bytes dropped and not reported yet (the session ends).
    pub fn take_dropped(&self, plugin: &str, integration: &str) -> Option<(u64, u64)> {
        let mut all = self.buckets.lock().expect("log budget lock");
        all.get_mut(&(plugin.to_string(), integration.to_string()))
            .and_then(take)
    }
}

fn take(b: &mut Bucket) -> Option<(u64, u64)> {
    let d = (b.dropped_lines, b.dropped_bytes);
    b.dropped_lines = 0;
    b.dropped_bytes = 0;
    b.reported_at = Instant::now();
    (d.0 > 0).then_some(d)
}

/// Report dropped lines in one line.
pub fn report_dropped(plugin: &str, integration: &str, (lines, bytes): (u64, u64)) {
    crate::metrics::log_dropped(plugin, lines);
    tracing::warn!(
        target: "plugin",
        plugin,
        integration,
        dropped_lines = lines,
        dropped_bytes = bytes,
        "plugin went over its log budget: {lines} lines ({bytes} bytes) dropped"
    );
}

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
        let admit = self
            .call
            .services
            .log_budget
            .admit(plugin, integration, message.len());
        if let Some(dropped) = admit.dropped {
            report_dropped(plugin, integration, dropped);
        }
        if !admit.write {
            return Ok(());
        }
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
