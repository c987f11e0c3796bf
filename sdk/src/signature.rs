//! Webhook signature checks in constant time: GitHub (`sha256=`), Slack (`v0=` with a
//! signed timestamp), any hex HMAC-SHA256, and shared tokens (Google channel tokens,
//! GitLab `X-Gitlab-Token`). Tested against the providers' documented example vectors.

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

/// GitHub's scheme: `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body
/// under the webhook secret.
///
/// ```
/// use tributary_sdk::signature::verify_github;
/// // GitHub's documented example.
/// let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
/// assert!(verify_github(b"It's a Secret to Everybody", b"Hello, World!", sig));
/// assert!(!verify_github(b"It's a Secret to Everybody", b"Hello, World?", sig));
/// ```
pub fn verify_github(secret: &[u8], body: &[u8], signature: &str) -> bool {
    verify_hmac_sha256_hex(secret, body, signature, "sha256=")
}

/// Slack allows five minutes between its signed timestamp and now.
pub const SLACK_MAX_SKEW_SECS: i64 = 300;

/// A shared token compared in constant time (Google Drive and Calendar channels echo the
/// `token` given at `watch` in `X-Goog-Channel-Token`; GitLab sends `X-Gitlab-Token`).
/// An empty expected token never matches.
///
/// ```
/// use tributary_sdk::signature::verify_token;
/// assert!(verify_token("chan-secret", "chan-secret"));
/// assert!(!verify_token("chan-secret", "chan-secreT"));
/// assert!(!verify_token("", ""));
/// ```
pub fn verify_token(expected: &str, given: &str) -> bool {
    !expected.is_empty()
        && expected.len() == given.len()
        && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// A header's value, by case-insensitive name.
///
/// ```
/// use tributary_sdk::signature::header;
/// let headers = vec![("X-Slack-Signature".to_string(), "v0=ab".to_string())];
/// assert_eq!(header(&headers, "x-slack-signature"), Some("v0=ab"));
/// assert_eq!(header(&headers, "x-other"), None);
/// ```
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example ("Verifying requests from Slack").
    const SLACK_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TS: &str = "1531420618";
    const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn works_when_slack_documented_vector_verifies() {
        let now = 1531420618 + 10;
        assert!(verify_slack(
            SLACK_SECRET,
            SLACK_TS,
            SLACK_BODY.as_bytes(),
            SLACK_SIG,
            now,
            SLACK_MAX_SKEW_SECS
        ));
    }

    #[test]
    fn errors_when_slack_timestamp_is_outside_the_window_or_anything_changed() {
        let body = SLACK_BODY.as_bytes();
        let ts: i64 = SLACK_TS.parse().unwrap();
        let ok = |now| {
            verify_slack(
                SLACK_SECRET,
                SLACK_TS,
                body,
                SLACK_SIG,
                now,
                SLACK_MAX_SKEW_SECS,
            )
        };
        assert!(ok(ts + 300) && ok(ts - 300));
        assert!(!ok(ts + 301), "a replay five minutes later is refused");
        assert!(!ok(ts - 301));
        let now = ts;
        assert!(
            !verify_slack(SLACK_SECRET, "1531420619", body, SLACK_SIG, now, 300),
            "timestamp is signed"
        );
        assert!(!verify_slack(b"other", SLACK_TS, body, SLACK_SIG, now, 300));
        let mut tampered = body.to_vec();
        tampered[0] = b'T';
        assert!(!verify_slack(
            SLACK_SECRET,
            SLACK_TS,
            &tampered,
            SLACK_SIG,
            now,
            300
        ));
        assert!(!verify_slack(
            SLACK_SECRET,
            "soon",
            body,
            SLACK_SIG,
            now,
            300
        ));
        assert!(!verify_slack(
            SLACK_SECRET,
            SLACK_TS,
            body,
            &SLACK_SIG.replace("v0=", "v1="),
            now,
            300
        ));
    }

    #[test]
    fn works_when_github_documented_vector_verifies() {
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify_github(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            sig
        ));
        assert_eq!(
            hex::encode(hmac_sha256(b"It's a Secret to Everybody", b"Hello, World!")),
            sig.trim_start_matches("sha256=")
        );
    }

    #[test]
    fn errors_when_github_signature_is_wrong_in_any_way() {
        let secret = b"It's a Secret to Everybody";
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(!verify_github(secret, b"Hello, World", sig));
        assert!(!verify_github(b"wrong", b"Hello, World!", sig));
        assert!(!verify_github(
            secret,
            b"Hello, World!",
            &sig.replace("sha256=", "sha1=")
        ));
        assert!(!verify_github(
            secret,
            b"Hello, World!",
            &sig[..sig.len() - 2]
        ));
        assert!(!verify_github(secret, b"Hello, World!", ""));
    }
}
