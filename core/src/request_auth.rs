//! Signed requests: how a unit's desk proves to the intake server that it is the unit, without
//! any secret shared with the server. The desk signs each request with the unit's Ed25519 key
//! (the one the authority's directory lists); the server checks it against the directory.
//!
//! The signature covers the method, the path with its query, a Unix timestamp, a random nonce
//! and the SHA-256 of the exact body bytes as the request declares it, behind a context string:
//!
//! ```text
//! "tipline request v2" || 0x00 || METHOD || "\n" || path_and_query || "\n" || timestamp
//!     || "\n" || nonce || "\n" || lowercase hex SHA-256(body)
//! ```
//!
//! It travels in five headers: [`HEADER_UNIT`] (the unit id), [`HEADER_TIMESTAMP`] (decimal Unix
//! seconds), [`HEADER_NONCE`] (16 random bytes, base64url), [`HEADER_CONTENT_SHA256`] (the body's
//! digest, 64 lowercase hex digits) and [`HEADER_SIGNATURE`] (base64url, no padding). Everything
//! signed is in the headers, so the server checks the signature before it reads a byte of the
//! body, then reads the body with a bound and refuses it if its digest is not the declared one.
//! The server refuses a timestamp further than its allowed skew from its own clock, and a nonce
//! it has seen within that window, so a captured request cannot be played again.
//!
//! Version 1 (`"tipline request v1"`, no nonce, the digest computed by the server after reading
//! the body) is no longer accepted.
#![deny(clippy::unwrap_used)]

use crate::crypto::random::{random_array, RandomSource};
use crate::crypto::{sha256, OsRandom};
use crate::encoding::{b64, unb64, unb64_array};
use crate::keys::{SigningKey, VerifyingKey};
use crate::{Error, Result};

/// Header carrying the unit id the request is signed as.
pub const HEADER_UNIT: &str = "tipline-unit";
/// Header carrying the signing time, decimal Unix seconds.
pub const HEADER_TIMESTAMP: &str = "tipline-timestamp";
/// Header carrying the request's nonce: [`NONCE_LEN`] random bytes, base64url without padding.
pub const HEADER_NONCE: &str = crate::api::NONCE_HEADER;
/// Header carrying the SHA-256 of the body, 64 lowercase hex digits (of the empty string when
/// there is no body).
pub const HEADER_CONTENT_SHA256: &str = crate::api::CONTENT_SHA256_HEADER;
/// Header carrying the Ed25519 signature, base64url without padding.
pub const HEADER_SIGNATURE: &str = "tipline-signature";
/// The context string that starts every request signature input.
pub const CONTEXT: &str = "tipline request v2";
/// Bytes of randomness in a nonce.
pub const NONCE_LEN: usize = 16;

const WHAT: &str = "request";

/// The body digest as [`HEADER_CONTENT_SHA256`] carries it.
pub fn content_sha256(body: &[u8]) -> String {
    hex::encode(sha256(body))
}

/// The bytes a request signature covers.
pub fn signature_input(
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    content_sha256: &str,
) -> Vec<u8> {
    let mut input =
        Vec::with_capacity(CONTEXT.len() + method.len() + path_and_query.len() + nonce.len() + 96);
    input.extend_from_slice(CONTEXT.as_bytes());
    input.push(0);
    input.extend_from_slice(method.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(path_and_query.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(timestamp.to_string().as_bytes());
    input.push(b'\n');
    input.extend_from_slice(nonce.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(content_sha256.as_bytes());
    input
}

/// What a signed request sends besides its unit id: the values of its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSignature {
    /// [`HEADER_TIMESTAMP`].
    pub timestamp: i64,
    /// [`HEADER_NONCE`].
    pub nonce: String,
    /// [`HEADER_CONTENT_SHA256`].
    pub content_sha256: String,
    /// [`HEADER_SIGNATURE`].
    pub signature: String,
}

impl RequestSignature {
    /// The request's headers, as `(name, value)`, for unit `unit_id`.
    pub fn headers(&self, unit_id: &str) -> [(&'static str, String); 5] {
        [
            (HEADER_UNIT, unit_id.to_owned()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_CONTENT_SHA256, self.content_sha256.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }
}

/// Signs a request with the unit's key under a fresh random nonce.
pub fn sign_request(
    key: &SigningKey,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<RequestSignature> {
    sign_request_with_rng(key, method, path_and_query, timestamp, body, &mut OsRandom::new())
}

/// [`sign_request`] with the nonce drawn from `rng`.
pub fn sign_request_with_rng(
    key: &SigningKey,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    body: &[u8],
    rng: &mut dyn RandomSource,
) -> Result<RequestSignature> {
    let nonce = b64(&random_array::<NONCE_LEN>(rng)?);
    let content_sha256 = content_sha256(body);
    let signature = b64(&key.sign(&signature_input(
        method,
        path_and_query,
        timestamp,
        &nonce,
        &content_sha256,
    )));
    Ok(RequestSignature {
        timestamp,
        nonce,
        content_sha256,
        signature,
    })
}

/// The nonce's bytes, if it is [`NONCE_LEN`] bytes of base64url.
pub fn parse_nonce(nonce: &str) -> Option<[u8; NONCE_LEN]> {
    unb64_array::<NONCE_LEN>(nonce).ok()
}

fn is_digest(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a request signature against the unit's key, and that its timestamp is within
/// `max_skew_secs` of `now_unix` either way. Refuses ([`Error::Refused`] with `what: "request"`)
/// a skewed timestamp, a nonce that is not [`NONCE_LEN`] bytes of base64url, a digest that is
/// not 64 lowercase hex digits, a signature that is not base64url, or one that does not verify.
/// The body's digest is checked by the caller as it reads the body.
pub fn verify_request(
    key: &VerifyingKey,
    method: &str,
    path_and_query: &str,
    signed: &RequestSignature,
    now_unix: i64,
    max_skew_secs: i64,
) -> Result<()> {
    let skew = now_unix.checked_sub(signed.timestamp).map(i64::unsigned_abs);
    if skew.is_none_or(|skew| skew > max_skew_secs.unsigned_abs()) {
        return Err(Error::refused(
            WHAT,
            format!("timestamp is more than {max_skew_secs} s away from the server's clock"),
        ));
    }
    if parse_nonce(&signed.nonce).is_none() {
        return Err(Error::refused(WHAT, "nonce is not 16 bytes of base64url"));
    }
    if !is_digest(&signed.content_sha256) {
        return Err(Error::refused(
            WHAT,
            "content digest is not 64 lowercase hex digits",
        ));
    }
    let signature =
        unb64(&signed.signature).map_err(|_| Error::refused(WHAT, "signature is not base64url"))?;
    key.verify(
        &signature_input(
            method,
            path_and_query,
            signed.timestamp,
            &signed.nonce,
            &signed.content_sha256,
        ),
        &signature,
    )
    .map_err(|_| Error::refused(WHAT, "signature does not verify"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CryptoError;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32]).unwrap()
    }

    /// Fills with one repeated byte.
    struct Fixed(u8);

    impl RandomSource for Fixed {
        fn fill(&mut self, dest: &mut [u8]) -> std::result::Result<(), CryptoError> {
            dest.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn test_signature_input_layout() {
        let input = signature_input(
            "POST",
            "/v1/units/u/inbox?limit=5",
            1_700_000_000,
            "AAAAAAAAAAAAAAAAAAAAAA",
            &content_sha256(b""),
        );
        let expected = format!(
            "tipline request v2\0POST\n/v1/units/u/inbox?limit=5\n1700000000\nAAAAAAAAAAAAAAAAAAAAAA\n{}",
            // SHA-256 of the empty string.
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(input, expected.as_bytes());
    }

    #[test]
    fn test_signing_draws_the_nonce_and_digests_the_body() {
        let signed = sign_request_with_rng(&key(1), "GET", "/x", 5, b"{}", &mut Fixed(0)).unwrap();
        assert_eq!(signed.nonce, "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(signed.content_sha256, content_sha256(b"{}"));
        assert_eq!(signed.headers("u")[0], (HEADER_UNIT, "u".to_owned()));
        // Two signatures of the same request carry different nonces.
        let a = sign_request(&key(1), "GET", "/x", 5, b"").unwrap();
        let b = sign_request(&key(1), "GET", "/x", 5, b"").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.signature, b.signature);
    }

    #[test]
    fn test_signed_request_verifies() {
        // Given a request signed by a unit's key,
        let k = key(1);
        let signed = sign_request(&k, "POST", "/v1/units/u/alerts", 100, b"{}").unwrap();
        // then it verifies with the unit's verifying key within the skew, either side.
        for now in [40, 100, 160] {
            verify_request(&k.verifying_key(), "POST", "/v1/units/u/alerts", &signed, now, 60).unwrap();
        }
    }

    #[test]
    fn test_any_change_is_refused() {
        // Given a signed request,
        let k = key(2);
        let vk = k.verifying_key();
        let signed = sign_request(&k, "POST", "/v1/units/u/alerts", 100, b"{}").unwrap();
        let verify = |method: &str, path: &str, signed: &RequestSignature| {
            verify_request(&vk, method, path, signed, 100, 60)
        };
        // when any signed part differs, then it is refused.
        assert!(verify("GET", "/v1/units/u/alerts", &signed).is_err());
        assert!(verify("POST", "/v1/units/v/alerts", &signed).is_err());
        let changed = |change: fn(&mut RequestSignature)| {
            let mut other = signed.clone();
            change(&mut other);
            other
        };
        assert!(verify("POST", "/v1/units/u/alerts", &changed(|s| s.timestamp = 101)).is_err());
        assert!(verify(
            "POST",
            "/v1/units/u/alerts",
            &changed(|s| s.nonce = "BBBBBBBBBBBBBBBBBBBBBB".to_owned())
        )
        .is_err());
        assert!(verify(
            "POST",
            "/v1/units/u/alerts",
            &changed(|s| s.content_sha256 = content_sha256(b"{ }"))
        )
        .is_err());
        // Another unit's key does not verify it.
        assert!(verify_request(
            &key(3).verifying_key(),
            "POST",
            "/v1/units/u/alerts",
            &signed,
            100,
            60
        )
        .is_err());
        // Garbage is refused, not a panic.
        for garbage in [
            changed(|s| s.signature = "!!".to_owned()),
            changed(|s| s.signature = String::new()),
            changed(|s| s.nonce = "short".to_owned()),
            changed(|s| s.nonce = String::new()),
            changed(|s| s.content_sha256 = "E3B0".repeat(16)),
            changed(|s| s.content_sha256 = String::new()),
        ] {
            assert!(
                verify("POST", "/v1/units/u/alerts", &garbage).is_err(),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn test_a_v1_signature_is_refused() {
        // Given a request signed under the v1 context (no nonce in the input),
        let k = key(5);
        let mut v1 = b"tipline request v1\0GET\n/v1/units/u/inbox\n100\n".to_vec();
        v1.extend_from_slice(content_sha256(b"").as_bytes());
        let signed = RequestSignature {
            timestamp: 100,
            nonce: "AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            content_sha256: content_sha256(b""),
            signature: b64(&k.sign(&v1)),
        };
        // then it does not verify as v2.
        assert!(verify_request(&k.verifying_key(), "GET", "/v1/units/u/inbox", &signed, 100, 60).is_err());
    }

    #[test]
    fn test_skew_is_refused() {
        let k = key(4);
        let signed = sign_request(&k, "GET", "/v1/units/u/inbox", 1000, b"").unwrap();
        let vk = k.verifying_key();
        let err = verify_request(&vk, "GET", "/v1/units/u/inbox", &signed, 1061, 60).unwrap_err();
        assert!(err.to_string().contains("timestamp"), "{err}");
        assert!(verify_request(&vk, "GET", "/v1/units/u/inbox", &signed, 939, 60).is_err());
        // Extreme values do not overflow.
        let old = RequestSignature {
            timestamp: i64::MIN,
            ..signed
        };
        assert!(verify_request(&vk, "GET", "/v1/units/u/inbox", &old, i64::MAX, 60).is_err());
    }
}
