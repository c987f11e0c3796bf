//! Webhook signature checks in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of `message` under `secret`.
///
/// ```
/// use tributary_sdk::signature::hmac_sha256;
/// assert_eq!(hmac_sha256(b"key", b"msg").len(), 32);
/// ```
pub fn hmac_sha256(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Check a hex HMAC-SHA256 signature (optionally prefixed, e.g. `sha256=` for GitHub,
/// `v0=` for Slack) in constant time.
///
/// ```
/// use tributary_sdk::signature::{hmac_sha256, verify_hmac_sha256_hex};
/// let sig = format!("sha256={}", hex::encode(hmac_sha256(b"s3cret", b"body")));
/// assert!(verify_hmac_sha256_hex(b"s3cret", b"body", &sig, "sha256="));
/// assert!(!verify_hmac_sha256_hex(b"s3cret", b"body!", &sig, "sha256="));
/// assert!(!verify_hmac_sha256_hex(b"s3cret", b"body", "sha256=zz", "sha256="));
/// ```
pub fn verify_hmac_sha256_hex(
    secret: &[u8],
    message: &[u8],
    signature: &str,
    prefix: &str,
) -> bool {
    let Some(hex_sig) = signature.trim().strip_prefix(prefix) else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let expected = hmac_sha256(secret, message);
    given.len() == expected.len() && bool::from(expected.ct_eq(&given))
}

/// Slack's scheme: `v0=` HMAC over `v0:{timestamp}:{body}`, refused when the timestamp
/// is more than `max_skew_secs` away from `now_secs` (replay protection).
///
/// ```
/// use tributary_sdk::signature::{hmac_sha256, verify_slack};
/// let sig = format!("v0={}", hex::encode(hmac_sha256(b"k", b"v0:1000:{}")));
/// assert!(verify_slack(b"k", "1000", b"{}", &sig, 1010, 300));
/// assert!(!verify_slack(b"k", "1000", b"{}", &sig, 5000, 300));
/// ```
pub fn verify_slack(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now_secs: i64,
    max_skew_secs: i64,
) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now_secs - ts).abs() > max_skew_secs {
        return false;
    }
    let mut base = format!("v0:{timestamp}:").into_bytes();
    base.extend_from_slice(body);
    verify_hmac_sha256_hex(secret, &base, signature, "v0=")
}
