//! Running a provider natively instead of as a component (unit tests of a plugin, the
//! host's native-versus-wasm benchmark): outbound HTTP goes to a handler the embedding
//! program sets, since there is no host to import it from; kv, secrets, credentials and
//! log are in-memory shims, one set per thread (each test its own). Only on non-wasm
//! targets.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::log::Level;
use crate::tokens::CredentialInfo;

use crate::__bindings::tributary::provider::http as raw;
use crate::Error;

pub use raw::Method;

/// A request the provider made, as a native handler receives it.
///
/// ```
/// use tributary_sdk::native::{NativeRequest, Method};
/// let r = NativeRequest { method: Method::Get, url: "https://e.com".into(), headers: vec![], body: None, authenticate: false };
/// assert_eq!(r.url, "https://e.com");
/// ```
#[derive(Debug, Clone)]
pub struct NativeRequest {
    /// HTTP method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
    /// Whether the provider asked for credentials to be added.
    pub authenticate: bool,
}

/// What a native handler answers: status, headers, body.
///
/// ```
/// let answer: tributary_sdk::native::NativeResponse = (200, vec![], b"{}".to_vec());
/// assert_eq!(answer.0, 200);
/// ```
pub type NativeResponse = (u16, Vec<(String, String)>, Vec<u8>);

type Handler = Arc<dyn Fn(NativeRequest) -> Result<NativeResponse, Error> + Send + Sync>;

static HANDLER: RwLock<Option<Handler>> = RwLock::new(None);

/// Answer every `http::Request::send` of natively compiled providers in this process
/// with `handler` (replacing any earlier one).
///
/// ```
/// use tributary_sdk::http::Request;
/// tributary_sdk::native::set_http_handler(|req| Ok((200, vec![], req.url.into_bytes())));
/// let resp = Request::get("https://e.com/x").send().unwrap();
/// assert_eq!(resp.text(), "https://e.com/x");
/// ```
pub fn set_http_handler(
    handler: impl Fn(NativeRequest) -> Result<NativeResponse, Error> + Send + Sync + 'static,
) {
    *HANDLER.write().expect("handler lock") = Some(Arc::new(handler));
}

pub(crate) fn send(req: raw::Request) -> Result<raw::Response, Error> {
    let handler = HANDLER
        .read()
        .expect("handler lock")
        .clone()
        .ok_or_else(|| Error::Other("no native HTTP handler is set".into()))?;
    let (status, headers, body) = handler(NativeRequest {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: req.body,
        authenticate: req.authenticate,
    })?;
    Ok(raw::Response {
        status,
        headers,
        body,
    })
}

#[derive(Default)]
struct Shims {
    kv: BTreeMap<String, Vec<u8>>,
    secrets: BTreeMap<String, String>,
    credential: Option<(CredentialInfo, String)>,
    logs: Vec<(Level, String)>,
}

thread_local! {
    static SHIMS: RefCell<Shims> = RefCell::new(Shims::default());
}

fn with<T>(f: impl FnOnce(&mut Shims) -> T) -> T {
    SHIMS.with(|s| f(&mut s.borrow_mut()))
}

/// Empty this thread's kv, secrets, credential and log.
///
/// ```
/// tributary_sdk::kv::set("k", b"v").unwrap();
/// tributary_sdk::native::reset();
/// assert_eq!(tributary_sdk::kv::get("k").unwrap(), None);
/// ```
pub fn reset() {
    with(|s| *s = Shims::default());
}

/// Set an app secret the provider reads with `secrets::get`.
///
/// ```
/// tributary_sdk::native::set_secret("signing_secret", "s3cret");
/// assert_eq!(tributary_sdk::secrets::get("signing_secret").unwrap().as_deref(), Some("s3cret"));
/// ```
pub fn set_secret(name: &str, value: &str) {
    with(|s| s.secrets.insert(name.to_string(), value.to_string()));
}

/// Give the integration a credential (`tokens::info`, and `tokens::raw` returns `raw`).
///
/// ```
/// use tributary_sdk::tokens::{CredentialInfo, CredentialKind};
/// let info = CredentialInfo { kind: CredentialKind::Oauth2, scopes: vec!["read".into()], expires_at: None };
/// tributary_sdk::native::set_credential(info, "tok");
/// assert_eq!(tributary_sdk::tokens::info().unwrap().unwrap().scopes, ["read"]);
/// assert_eq!(tributary_sdk::tokens::raw().unwrap(), "tok");
/// ```
pub fn set_credential(info: CredentialInfo, raw: &str) {
    with(|s| s.credential = Some((info, raw.to_string())));
}

/// The lines logged on this thread since the last call, oldest first.
///
/// ```
/// tributary_sdk::log::info("hello");
/// let lines = tributary_sdk::native::take_logs();
/// assert_eq!(lines.last().unwrap().1, "hello");
/// ```
pub fn take_logs() -> Vec<(Level, String)> {
    with(|s| std::mem::take(&mut s.logs))
}

/// Everything in this thread's kv, by key.
///
/// ```
/// tributary_sdk::native::reset();
/// tributary_sdk::kv::set("a", b"1").unwrap();
/// assert_eq!(tributary_sdk::native::kv_snapshot().len(), 1);
/// ```
pub fn kv_snapshot() -> BTreeMap<String, Vec<u8>> {
    with(|s| s.kv.clone())
}

pub(crate) fn kv_get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    Ok(with(|s| s.kv.get(key).cloned()))
}

pub(crate) fn kv_set(key: &str, value: &[u8]) -> Result<(), Error> {
    with(|s| s.kv.insert(key.to_string(), value.to_vec()));
    Ok(())
}

pub(crate) fn kv_delete(key: &str) -> Result<(), Error> {
    with(|s| s.kv.remove(key));
    Ok(())
}

pub(crate) fn kv_list(prefix: &str) -> Result<Vec<String>, Error> {
    Ok(with(|s| {
        s.kv.keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }))
}

pub(crate) fn secret(name: &str) -> Result<Option<String>, Error> {
    Ok(with(|s| s.secrets.get(name).cloned()))
}

pub(crate) fn token_info() -> Result<Option<CredentialInfo>, Error> {
    Ok(with(|s| s.credential.as_ref().map(|(i, _)| i.clone())))
}

pub(crate) fn token_refresh() -> Result<CredentialInfo, Error> {
    token_info()?.ok_or_else(|| Error::unauthorized("the integration has no credential"))
}

pub(crate) fn token_raw() -> Result<String, Error> {
    with(|s| s.credential.as_ref().map(|(_, r)| r.clone()))
        .ok_or_else(|| Error::Forbidden("no raw credential is available".into()))
}

pub(crate) fn log(level: Level, message: &str) {
    with(|s| s.logs.push((level, message.to_string())));
}
