//! Running a provider natively instead of as a component (unit tests of a plugin, the
//! host's native-versus-wasm benchmark): outbound HTTP goes to a handler the embedding
//! program sets, since there is no host to import it from. Only on non-wasm targets.

use std::sync::{Arc, RwLock};

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
