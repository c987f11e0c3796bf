//! Persistent key/value storage, private to the integration the call runs for.
//!
//! Values are bytes; [`get_json`] and [`set_json`] store serde values.

#[cfg(target_arch = "wasm32")]
use crate::__bindings::tributary::provider::kv as raw;
use crate::Error;

/// The bytes under `key`.
///
/// ```no_run
/// let seen = tributary_sdk::kv::get("cursor")?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    #[cfg(target_arch = "wasm32")]
    return raw::get(key);
    // Compiled natively (plugin unit tests): the in-memory shim in `native`.
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::kv_get(key);
}

/// Store bytes under `key`.
///
/// ```no_run
/// tributary_sdk::kv::set("cursor", b"abc")?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    #[cfg(target_arch = "wasm32")]
    return raw::set(key, value);
    // Compiled natively (plugin unit tests): the in-memory shim in `native`.
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::kv_set(key, value);
}

/// Remove `key`.
///
/// ```no_run
/// tributary_sdk::kv::delete("cursor")?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn delete(key: &str) -> Result<(), Error> {
    #[cfg(target_arch = "wasm32")]
    return raw::delete(key);
    // Compiled natively (plugin unit tests): the in-memory shim in `native`.
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::kv_delete(key);
}

/// Keys starting with `prefix`, in byte order.
///
/// ```no_run
/// for key in tributary_sdk::kv::list_keys("etag/")? { println!("{key}"); }
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn list_keys(prefix: &str) -> Result<Vec<String>, Error> {
    #[cfg(target_arch = "wasm32")]
    return raw::list_keys(prefix);
    // Compiled natively (plugin unit tests): the in-memory shim in `native`.
    #[cfg(not(target_arch = "wasm32"))]
    return crate::native::kv_list(prefix);
}

/// A JSON value under `key`.
///
/// ```no_run
/// let n: Option<u64> = tributary_sdk::kv::get_json("count")?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn get_json<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
    }
}

/// Store a value as JSON.
///
/// ```no_run
/// tributary_sdk::kv::set_json("count", &3u64)?;
/// # Ok::<(), tributary_sdk::Error>(())
/// ```
pub fn set_json<T: serde::Serialize>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::other(e.to_string()))?;
    set(key, &bytes)
}
