//! Time-based one-time passwords, the officers' second factor: RFC 6238 TOTP over RFC 4226 HOTP
//! with HMAC-SHA1, 6 digits and 30-second steps, the setting every authenticator app reads from
//! an `otpauth://` link. A code is accepted one step early or late (clock drift) and only for a
//! step later than the last one used, so a code seen over a shoulder cannot be used again.

use ring::hmac;
use tipline_core::crypto::random::random_array;
use tipline_core::crypto::OsRandom;
use zeroize::Zeroizing;

use crate::error::Result;

/// Seconds per step (RFC 6238 section 4.1, X).
pub const STEP: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of now.
const DRIFT: u64 = 1;

/// A TOTP secret: 20 random bytes, the size of an HMAC-SHA1 output (RFC 4226 section 4, R6).
#[derive(Clone)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A fresh random secret.
    pub fn generate() -> Result<Secret> {
        let bytes: [u8; 20] = random_array(&mut OsRandom::new()).map_err(tipline_core::Error::from)?;
        Ok(Secret(Zeroizing::new(bytes.to_vec())))
    }

    /// The secret from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Secret {
        Secret(Zeroizing::new(bytes.to_vec()))
    }

    /// The secret from its base32 text (as shown to the officer); `None` if not base32.
    pub fn from_base32(text: &str) -> Option<Secret> {
        base32_decode(text).map(|b| Secret(Zeroizing::new(b)))
    }

    /// Base32 (RFC 4648, no padding), as authenticator apps take it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32_encode(&self.0))
    }

    /// The `otpauth://` link for an authenticator app.
    pub fn uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let issuer = percent(issuer);
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
            percent(account),
            self.to_base32().as_str()
        ))
    }

    /// The code for step `counter` (RFC 4226 section 5.3: HMAC, dynamic truncation, modulo).
    pub fn hotp(&self, counter: u64) -> u32 {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let mac = hmac::sign(&key, &counter.to_be_bytes());
        let mac = mac.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([mac[offset], mac[offset + 1], mac[offset + 2], mac[offset + 3]])
            & 0x7fff_ffff;
        binary % 10u32.pow(DIGITS)
    }

    /// The code at Unix time `now`, as six digits.
    pub fn code_at(&self, now: u64) -> String {
        format!("{:06}", self.hotp(now / STEP))
    }

    /// The step whose code `code` is, within the drift around `now`, if it is later than
    /// `last_used` (the step of the last code accepted for this secret).
    pub fn verify(&self, code: &str, now: u64, last_used: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let given: u32 = code.parse().ok()?;
        let current = now / STEP;
        let mut found = None;
        // Every step in the window is computed, so the time taken does not say which matched.
        for step in current.saturating_sub(DRIFT)..=current + DRIFT {
            if self.hotp(step) == given && last_used.is_none_or(|last| step > last) {
                found = Some(step);
            }
        }
        found
    }
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !matches!(c, b' ' | b'-' | b'=')) {
        let value = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

fn percent(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits there; the last 6 here).
    #[test]
    fn test_rfc6238_vectors() {
        let secret = Secret::from_bytes(b"12345678901234567890");
        for (time, eight) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code_at(time), eight[2..], "at {time}");
        }
    }

    /// RFC 4226 appendix D.
    #[test]
    fn test_rfc4226_vectors() {
        let secret = Secret::from_bytes(b"12345678901234567890");
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(secret.hotp(counter as u64), code);
        }
    }

    #[test]
    fn test_a_code_is_accepted_once_and_within_the_drift() {
        let secret = Secret::generate().unwrap();
        let now = 1_700_000_000;
        let code = secret.code_at(now);
        let step = secret.verify(&code, now, None).unwrap();
        assert_eq!(step, now / STEP);
        // The same code again: refused.
        assert_eq!(secret.verify(&code, now, Some(step)), None);
        // One step late: accepted; three steps late: refused.
        assert!(secret.verify(&code, now + STEP, None).is_some());
        assert!(secret.verify(&code, now + 3 * STEP, None).is_none());
        assert!(secret.verify("12345", now, None).is_none());
        assert!(secret.verify("abcdef", now, None).is_none());
    }

    #[test]
    fn test_base32_round_trip_and_rfc4648_vector() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        let secret = Secret::generate().unwrap();
        let again = Secret::from_base32(&secret.to_base32()).unwrap();
        assert_eq!(again.hotp(7), secret.hotp(7));
        assert!(secret
            .uri("Tipline Desk", "anna")
            .starts_with("otpauth://totp/Tipline%20Desk:anna?secret="));
    }
}
