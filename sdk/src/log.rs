//! Logging into the host's logs; each line is tagged with plugin and integration.

use crate::__bindings::tributary::provider::log as raw;

pub use raw::Level;

/// Write one line at `level`.
///
/// ```no_run
/// use tributary_sdk::log::{log, Level};
/// log(Level::Info, "fetched 10 items");
/// ```
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    raw::log(level, message);
    // Compiled natively (plugin unit tests): kept for `native::take_logs`.
    #[cfg(not(target_arch = "wasm32"))]
    crate::native::log(level, message);
}

/// Write an info line.
///
/// ```no_run
/// tributary_sdk::log::info("page 2 done");
/// ```
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// Write a warning.
///
/// ```no_run
/// tributary_sdk::log::warn("skipping a malformed entry");
/// ```
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Write a debug line.
///
/// ```no_run
/// tributary_sdk::log::debug("cursor = abc");
/// ```
pub fn debug(message: &str) {
    log(Level::Debug, message)
}
