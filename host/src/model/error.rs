//! The typed failure every plugin call and host capability returns; the host acts on its
//! kind (retry, back off, refresh the token, show it to the user).

/// A typed failure the host acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// The provider rejected the credentials (HTTP 401, revoked token).
    Unauthorized(String),
    /// The host refused the operation (host not allowed, permission not granted, limit).
    Forbidden(String),
    /// The provider asked to slow down.
    RateLimited(RateLimit),
    /// The resource or account does not exist (any more).
    NotFound(String),
    /// A failure that may pass on retry (5xx, timeout, connection reset).
    Transient(String),
    /// The integration's configuration is wrong or incomplete.
    InvalidConfig(String),
    /// The input (webhook body, cursor, id) could not be understood.
    InvalidInput(String),
    /// Anything else.
    Other(String),
}

/// Details of a rate-limit answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// How long to wait before the next call, when the provider said so.
    pub retry_after_ms: Option<u64>,
    /// What the provider said.
    pub message: String,
}

impl PluginError {
    /// A human-readable message.
    pub fn message(&self) -> String {
        match self {
            PluginError::Unauthorized(m) => format!("unauthorized: {m}"),
            PluginError::Forbidden(m) => format!("forbidden: {m}"),
            PluginError::RateLimited(r) => match r.retry_after_ms {
                Some(ms) => format!("rate limited (retry after {ms} ms): {}", r.message),
                None => format!("rate limited: {}", r.message),
            },
            PluginError::NotFound(m) => format!("not found: {m}"),
            PluginError::Transient(m) => format!("transient: {m}"),
            PluginError::InvalidConfig(m) => format!("invalid config: {m}"),
            PluginError::InvalidInput(m) => format!("invalid input: {m}"),
            PluginError::Other(m) => m.clone(),
        }
    }

    /// A stable machine-readable code for this error's kind.
    pub fn code(&self) -> &'static str {
        match self {
            PluginError::Unauthorized(_) => "unauthorized",
            PluginError::Forbidden(_) => "forbidden",
            PluginError::RateLimited(_) => "rate_limited",
            PluginError::NotFound(_) => "not_found",
            PluginError::Transient(_) => "transient",
            PluginError::InvalidConfig(_) => "invalid_config",
            PluginError::InvalidInput(_) => "invalid_input",
            PluginError::Other(_) => "other",
        }
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for PluginError {}
