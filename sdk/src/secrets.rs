//! The provider's own app secrets (webhook signing secrets), as the admin configured them.

#[cfg(target_arch = "wasm32")]
use crate::__bindings::tributary::provider::secrets as raw;
use crate::Error;

/// The secret named `name`, or none when the admin did not set it.
///
/// ```no_run
/// let signing = tributary_sdk::secrets::get("signing_secret")?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn get(name: &str) -> Result<Option<String>, Error> {
    #[cfg(target_arch = "wasm32")]
    return raw::get(name);
    // Compiled natively (plugin unit tests): the in-memory shim in `native`.
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::secret(name);
}

/// The secret named `name`, or an `invalid-config` error naming it.
///
/// ```no_run
/// let signing = tributary_sdk::secrets::require("signing_secret")?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn require(name: &str) -> Result<String, Error> {
    get(name)?
        .ok_or_else(|| Error::invalid_config(format!("the admin has not set the secret `{name}`")))
}
