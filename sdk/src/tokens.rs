//! What credentials the integration holds. The host injects them into requests itself;
//! the raw value is only for plugins whose manifest asks for `raw-token` and an admin approved.

use crate::__bindings::tributary::provider::tokens as raw;
use crate::Error;

pub use raw::{CredentialInfo, CredentialKind};

/// The credential's kind, scopes and expiry, or none.
///
/// ```no_run
/// if let Some(info) = tributary_sdk::tokens::info()? { println!("{:?}", info.scopes); }
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn info() -> Result<Option<CredentialInfo>, Error> {
    #[cfg(target_arch = "wasm32")]
    return raw::info();
    // Compiled natively (plugin unit tests): the in-memory shim in `native`.
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::token_info();
}

/// Force a refresh now.
///
/// ```no_run
/// let fresh = tributary_sdk::tokens::refresh()?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn refresh() -> Result<CredentialInfo, Error> {
    #[cfg(target_arch = "wasm32")]
    return raw::refresh();
    // Compiled natively (plugin unit tests): the in-memory shim in `native`.
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::token_refresh();
}

/// The raw secret, only behind an approved `raw-token` permission.
///
/// ```no_run
/// let token = tributary_sdk::tokens::raw()?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn raw() -> Result<String, Error> {
    #[cfg(target_arch = "wasm32")]
    return raw::raw();
    // Compiled natively (plugin unit tests): the in-memory shim in `native`.
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::token_raw();
}
