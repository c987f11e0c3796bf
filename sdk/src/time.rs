//! Timestamps: the WIT uses milliseconds since the Unix epoch.

use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// Parse an RFC 3339 (`2024-05-01T10:00:00Z`) or RFC 2822 (`Wed, 01 May 2024 10:00:00 +0000`)
/// date into milliseconds since the epoch.
///
/// ```
/// use tributary_sdk::time::parse_millis;
/// assert_eq!(parse_millis("1970-01-01T00:00:01Z"), Some(1000));
/// assert_eq!(parse_millis("Thu, 01 Jan 1970 00:00:02 +0000"), Some(2000));
/// assert_eq!(parse_millis("yesterday"), None);
/// ```
pub fn parse_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    let dt = OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(s, &Rfc2822))
        .ok()?;
    Some((dt.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Format milliseconds since the epoch as RFC 3339 (for `?since=` style parameters).
///
/// ```
/// use tributary_sdk::time::format_rfc3339;
/// assert_eq!(format_rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
/// ```
pub fn format_rfc3339(millis: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Parse an HTTP `Retry-After` value (seconds or an HTTP date) into milliseconds to wait,
/// given the current time in ms.
///
/// ```
/// use tributary_sdk::time::retry_after_millis;
/// assert_eq!(retry_after_millis("3", 0), Some(3000));
/// assert_eq!(retry_after_millis("Thu, 01 Jan 1970 00:00:10 GMT", 4000), Some(6000));
/// ```
pub fn retry_after_millis(value: &str, now_millis: i64) -> Option<u64> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = parse_millis(v)?;
    Some(at.saturating_sub(now_millis).max(0) as u64)
}

/// Milliseconds since the Unix epoch now (the host's wall clock).
///
/// ```
/// let now = tributary_sdk::time::now_millis();
/// assert!(now > 1_700_000_000_000);
/// ```
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
