//! Google's JSON error envelope (`{"error": {"code", "message", "errors": [{"domain",
//! "reason"}], "status"}}`) mapped to the typed errors the host acts on. The status code
//! alone is not enough: a 403 is a rate limit when its reason says so, and a 410 from
//! Calendar is an expired sync token only for `fullSyncRequired`.

use serde::Deserialize;
use tributary_sdk::Error;
use tributary_sdk::http::Response;

/// Reasons that mean "slow down" (403 or 429), from the Drive, Gmail and Calendar error
/// guides. `quotaExceeded` is Calendar's abuse limit: backing off is still the answer.
const RATE_REASONS: &[&str] = &[
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
    "sharingRateLimitExceeded",
];

/// Reasons that mean "your sync token or history id is no longer valid: walk again".
const RESYNC_REASONS: &[&str] = &["fullSyncRequired", "updatedMinTooLongAgo"];

/// The parts of an error answer the plugins look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoogleError {
    /// HTTP status.
    pub code: u16,
    /// The first `errors[].reason`, when given.
    pub reason: Option<String>,
    /// The top-level message.
    pub message: String,
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<Item>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    reason: Option<String>,
}

impl GoogleError {
    /// Read an error answer (any body: HTML from a proxy reads as its status alone).
    ///
    /// ```
    /// use tributary_google::GoogleError;
    /// let e = GoogleError::parse(403, br#"{"error":{"code":403,"message":"Rate Limit Exceeded",
    ///     "errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded"}]}}"#);
    /// assert_eq!(e.reason.as_deref(), Some("userRateLimitExceeded"));
    /// ```
    pub fn parse(code: u16, body: &[u8]) -> GoogleError {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => GoogleError {
                code,
                reason: error
                    .errors
                    .into_iter()
                    .find_map(|i| i.reason)
                    .or(error.status),
                message: error.message,
            },
            Err(_) => GoogleError {
                code,
                reason: None,
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            },
        }
    }

    /// Whether Google asked to slow down.
    pub fn is_rate_limit(&self) -> bool {
        self.code == 429
            || (self.code == 403
                && self
                    .reason
                    .as_deref()
                    .is_some_and(|r| RATE_REASONS.contains(&r)))
    }

    /// Whether the sync token (Calendar) was refused as too old.
    pub fn is_resync(&self) -> bool {
        self.code == 410
            && self
                .reason
                .as_deref()
                .is_some_and(|r| RESYNC_REASONS.contains(&r))
    }

    /// The typed error the host acts on.
    ///
    /// ```
    /// use tributary_google::GoogleError;
    /// use tributary_sdk::Error;
    /// let e = GoogleError::parse(401, br#"{"error":{"code":401,"message":"Invalid Credentials",
    ///     "errors":[{"reason":"authError"}],"status":"UNAUTHENTICATED"}}"#);
    /// assert!(matches!(e.into_error(None), Error::Unauthorized(_)));
    /// ```
    pub fn into_error(self, retry_after_ms: Option<u64>) -> Error {
        let detail = match &self.reason {
            Some(r) => format!("Google API {} {r}: {}", self.code, self.message),
            None => format!("Google API {}: {}", self.code, self.message),
        };
        if self.is_rate_limit() {
            return Error::rate_limited(retry_after_ms, detail);
        }
        match self.code {
            401 => Error::unauthorized(detail),
            403 => Error::Forbidden(detail),
            404 | 410 => Error::not_found(detail),
            400 => Error::invalid_input(detail),
            500..=599 => Error::transient(detail),
            _ => Error::other(detail),
        }
    }
}

/// The response when it is a success, else Google's error as a typed error.
///
/// ```
/// use tributary_sdk::http::Response;
/// let r = Response::from_parts(429, vec![("Retry-After".into(), "3".into())],
///     br#"{"error":{"code":429,"message":"Rate Limit Exceeded"}}"#.to_vec());
/// assert!(matches!(tributary_google::check(r), Err(tributary_sdk::Error::RateLimited(_))));
/// ```
pub fn check(resp: Response) -> Result<Response, Error> {
    if (200..300).contains(&resp.status()) {
        return Ok(resp);
    }
    let retry = resp.retry_after_ms();
    Err(GoogleError::parse(resp.status(), resp.bytes()).into_error(retry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_rate_reasons_on_403_are_rate_limits() {
        let body = br#"{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":403,"message":"Rate Limit Exceeded"}}"#;
        assert!(GoogleError::parse(403, body).is_rate_limit());
        let forbidden = br#"{"error":{"code":403,"message":"The user does not have sufficient permissions for this file.","errors":[{"domain":"global","reason":"insufficientFilePermissions"}]}}"#;
        let e = GoogleError::parse(403, forbidden);
        assert!(!e.is_rate_limit());
        assert!(matches!(e.into_error(None), Error::Forbidden(_)));
    }

    #[test]
    fn works_when_calendar_410_says_which_kind() {
        let full = br#"{"error":{"errors":[{"domain":"calendar","reason":"fullSyncRequired","message":"Sync token is no longer valid, a full sync is required.","locationType":"parameter","location":"syncToken"}],"code":410,"message":"Sync token is no longer valid, a full sync is required."}}"#;
        assert!(GoogleError::parse(410, full).is_resync());
        let deleted = br#"{"error":{"errors":[{"domain":"global","reason":"deleted","message":"Resource has been deleted"}],"code":410,"message":"Resource has been deleted"}}"#;
        assert!(!GoogleError::parse(410, deleted).is_resync());
    }

    #[test]
    fn errors_when_the_body_is_not_json() {
        let e = GoogleError::parse(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.reason, None);
        assert!(matches!(e.into_error(None), Error::Transient(_)));
    }
}
