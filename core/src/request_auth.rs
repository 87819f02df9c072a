//! Signed requests: how a unit's desk proves to the intake server that it is the unit, without
//! any secret shared with the server. The desk signs each request with the unit's Ed25519 key
//! (the one the authority's directory lists); the server checks it against the directory.
//!
//! The signature covers the method, the path with its query, a Unix timestamp and the SHA-256 of
//! the exact body bytes, behind a context string:
//!
//! ```text
//! "tipline request v1" || 0x00 || METHOD || "\n" || path_and_query || "\n" || timestamp
//!     || "\n" || lowercase hex SHA-256(body)
//! ```
//!
//! It travels in three headers: [`HEADER_UNIT`] (the unit id), [`HEADER_TIMESTAMP`] (decimal Unix
//! seconds) and [`HEADER_SIGNATURE`] (base64url, no padding). The server refuses a timestamp
//! further than its allowed skew from its own clock, which bounds how long a captured request
//! could be replayed; every unit request is idempotent, so a replay inside that window changes
//! nothing.
#![deny(clippy::unwrap_used)]

use crate::crypto::sha256;
use crate::encoding::{b64, unb64};
use crate::keys::{SigningKey, VerifyingKey};
use crate::{Error, Result};

/// Header carrying the unit id the request is signed as.
pub const HEADER_UNIT: &str = "tipline-unit";
/// Header carrying the signing time, decimal Unix seconds.
pub const HEADER_TIMESTAMP: &str = "tipline-timestamp";
/// Header carrying the Ed25519 signature, base64url without padding.
pub const HEADER_SIGNATURE: &str = "tipline-signature";
/// The context string that starts every request signature input.
pub const CONTEXT: &str = "tipline request v1";

const WHAT: &str = "request";

/// The bytes a request signature covers.
pub fn signature_input(method: &str, path_and_query: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let body_hash = hex::encode(sha256(body));
    let mut input = Vec::with_capacity(CONTEXT.len() + method.len() + path_and_query.len() + 96);
    input.extend_from_slice(CONTEXT.as_bytes());
    input.push(0);
    input.extend_from_slice(method.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(path_and_query.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(timestamp.to_string().as_bytes());
    input.push(b'\n');
    input.extend_from_slice(body_hash.as_bytes());
    input
}

/// Signs a request with the unit's key; returns the value of [`HEADER_SIGNATURE`].
pub fn sign_request(
    key: &SigningKey,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    b64(&key.sign(&signature_input(method, path_and_query, timestamp, body)))
}

/// Checks a request signature against the unit's key, and that `timestamp` is within
/// `max_skew_secs` of `now_unix` either way. Refuses ([`Error::Refused`] with `what: "request"`)
/// a skewed timestamp, a signature that is not base64url, or one that does not verify.
#[allow(clippy::too_many_arguments)]
pub fn verify_request(
    key: &VerifyingKey,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    body: &[u8],
    signature_b64: &str,
    now_unix: i64,
    max_skew_secs: i64,
) -> Result<()> {
    let skew = now_unix.checked_sub(timestamp).map(i64::unsigned_abs);
    if skew.is_none_or(|skew| skew > max_skew_secs.unsigned_abs()) {
        return Err(Error::refused(
            WHAT,
            format!("timestamp is more than {max_skew_secs} s away from the server's clock"),
        ));
    }
    let signature = unb64(signature_b64).map_err(|_| Error::refused(WHAT, "signature is not base64url"))?;
    key.verify(
        &signature_input(method, path_and_query, timestamp, body),
        &signature,
    )
    .map_err(|_| Error::refused(WHAT, "signature does not verify"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32]).unwrap()
    }

    #[test]
    fn test_signature_input_layout() {
        let input = signature_input("POST", "/v1/units/u/inbox?limit=5", 1_700_000_000, b"");
        let expected = format!(
            "tipline request v1\0POST\n/v1/units/u/inbox?limit=5\n1700000000\n{}",
            // SHA-256 of the empty string.
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(input, expected.as_bytes());
    }

    #[test]
    fn test_signed_request_verifies() {
        // Given a request signed by a unit's key,
        let k = key(1);
        let sig = sign_request(&k, "POST", "/v1/units/u/alerts", 100, b"{}");
        // then it verifies with the unit's verifying key within the skew, either side.
        for now in [40, 100, 160] {
            verify_request(
                &k.verifying_key(),
                "POST",
                "/v1/units/u/alerts",
                100,
                b"{}",
                &sig,
                now,
                60,
            )
            .unwrap();
        }
    }

    #[test]
    fn test_any_change_is_refused() {
        // Given a signed request,
        let k = key(2);
        let vk = k.verifying_key();
        let sig = sign_request(&k, "POST", "/v1/units/u/alerts", 100, b"{}");
        // when any signed part differs, then it is refused.
        assert!(verify_request(&vk, "GET", "/v1/units/u/alerts", 100, b"{}", &sig, 100, 60).is_err());
        assert!(verify_request(&vk, "POST", "/v1/units/v/alerts", 100, b"{}", &sig, 100, 60).is_err());
        assert!(verify_request(&vk, "POST", "/v1/units/u/alerts", 101, b"{}", &sig, 100, 60).is_err());
        assert!(verify_request(&vk, "POST", "/v1/units/u/alerts", 100, b"{ }", &sig, 100, 60).is_err());
        // Another unit's key does not verify it.
        assert!(verify_request(
            &key(3).verifying_key(),
            "POST",
            "/v1/units/u/alerts",
            100,
            b"{}",
            &sig,
            100,
            60
        )
        .is_err());
        // Garbage is refused, not a panic.
        assert!(verify_request(&vk, "POST", "/v1/units/u/alerts", 100, b"{}", "!!", 100, 60).is_err());
        assert!(verify_request(&vk, "POST", "/v1/units/u/alerts", 100, b"{}", "", 100, 60).is_err());
    }

    #[test]
    fn test_skew_is_refused() {
        let k = key(4);
        let sig = sign_request(&k, "GET", "/v1/units/u/inbox", 1000, b"");
        let err = verify_request(
            &k.verifying_key(),
            "GET",
            "/v1/units/u/inbox",
            1000,
            b"",
            &sig,
            1061,
            60,
        )
        .unwrap_err();
        assert!(err.to_string().contains("timestamp"), "{err}");
        assert!(verify_request(
            &k.verifying_key(),
            "GET",
            "/v1/units/u/inbox",
            1000,
            b"",
            &sig,
            939,
            60
        )
        .is_err());
        // Extreme values do not overflow.
        assert!(verify_request(
            &k.verifying_key(),
            "GET",
            "/v1/units/u/inbox",
            i64::MIN,
            b"",
            &sig,
            i64::MAX,
            60
        )
        .is_err());
    }
}
