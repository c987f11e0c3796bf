//! The typed error every plugin call returns; the host acts on its variant.

/// A typed failure: the host retries `Transient`, backs off on `RateLimited`, refreshes the
/// token or marks it expired on `Unauthorized`, and shows the rest to the user.
///
/// ```
/// use tributary_sdk::Error;
/// let e = Error::transient("upstream 503");
/// assert!(matches!(e, Error::Transient(_)));
/// ```
pub use crate::__bindings::tributary::provider::types::Error;

/// How long a provider asked us to wait.
///
/// ```
/// use tributary_sdk::{Error, RateLimit};
/// let e = Error::RateLimited(RateLimit { retry_after_ms: Some(1000), message: "slow down".into() });
/// assert!(matches!(e, Error::RateLimited(_)));
/// ```
pub use crate::__bindings::tributary::provider::types::RateLimit;

impl Error {
    /// The provider rejected the credentials.
    ///
    /// ```
    /// # use tributary_sdk::Error;
    /// assert!(matches!(Error::unauthorized("401"), Error::Unauthorized(_)));
    /// ```
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        Error::Unauthorized(msg.into())
    }

    /// The resource does not exist.
    ///
    /// ```
    /// # use tributary_sdk::Error;
    /// assert!(matches!(Error::not_found("x"), Error::NotFound(_)));
    /// ```
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }

    /// A failure that may pass on retry.
    ///
    /// ```
    /// # use tributary_sdk::Error;
    /// assert!(matches!(Error::transient("timeout"), Error::Transient(_)));
    /// ```
    pub fn transient(msg: impl Into<String>) -> Self {
        Error::Transient(msg.into())
    }

    /// The integration's configuration is wrong.
    ///
    /// ```
    /// # use tributary_sdk::Error;
    /// assert!(matches!(Error::invalid_config("no url"), Error::InvalidConfig(_)));
    /// ```
    pub fn invalid_config(msg: impl Into<String>) -> Self {
        Error::InvalidConfig(msg.into())
    }

    /// The input could not be understood.
    ///
    /// ```
    /// # use tributary_sdk::Error;
    /// assert!(matches!(Error::invalid_input("bad cursor"), Error::InvalidInput(_)));
    /// ```
    pub fn invalid_input(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    /// Anything else.
    ///
    /// ```
    /// # use tributary_sdk::Error;
    /// assert!(matches!(Error::other("?"), Error::Other(_)));
    /// ```
    pub fn other(msg: impl Into<String>) -> Self {
        Error::Other(msg.into())
    }

    /// The provider asked to slow down, optionally saying for how long.
    ///
    /// ```
    /// # use tributary_sdk::Error;
    /// assert!(matches!(Error::rate_limited(Some(500), "429"), Error::RateLimited(_)));
    /// ```
    pub fn rate_limited(retry_after_ms: Option<u64>, msg: impl Into<String>) -> Self {
        Error::RateLimited(RateLimit {
            retry_after_ms,
            message: msg.into(),
        })
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::InvalidInput(format!("malformed JSON from provider: {e}"))
    }
}
