//! Text encodings used on the wire: base64url without padding for bytes in JSON, lowercase hex
//! for identifiers. Serde helpers so that types can carry raw bytes and still read as JSON.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::crypto::CryptoError;

/// Calls `f` with `bytes` in lowercase hex, written on the stack for ids, hashes and keys (up to
/// 64 bytes) instead of allocating a string: receipts and pages carry many of them.
pub fn with_hex<R>(bytes: &[u8], f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 128];
    if let Some(out) = buf.get_mut(..bytes.len() * 2) {
        if hex::encode_to_slice(bytes, out).is_ok() {
            if let Ok(text) = std::str::from_utf8(out) {
                return f(text);
            }
        }
    }
    f(&hex::encode(bytes))
}

/// Encodes bytes as base64url without padding (RFC 4648 section 5).
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn unb64(text: &str) -> Result<Vec<u8>, CryptoError> {
    URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| CryptoError::Malformed)
}

/// Decodes base64url into exactly `N` bytes.
pub fn unb64_array<const N: usize>(text: &str) -> Result<[u8; N], CryptoError> {
    unb64(text)?.try_into().map_err(|_| CryptoError::Malformed)
}

/// A cursor over bytes that fails with `Malformed` instead of reading past the end, for the
/// binary formats: the envelope, Oblivious HTTP key configurations and binary HTTP.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CryptoError> {
        if self.0.len() < n {
            return Err(CryptoError::Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    /// The next byte.
    pub(crate) fn u8(&mut self) -> Result<u8, CryptoError> {
        Ok(self.take(1)?[0])
    }

    /// The next two bytes, big-endian.
    pub(crate) fn u16(&mut self) -> Result<u16, CryptoError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], CryptoError> {
        self.take(N)?.try_into().map_err(|_| CryptoError::Malformed)
    }
}

/// Serde adapter: `Vec<u8>` as a base64url string.
pub mod b64_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes bytes as base64url.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::b64(bytes))
    }

    /// Deserializes base64url into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        super::unb64(&text).map_err(|_| serde::de::Error::custom("invalid base64url"))
    }
}

/// Serde adapter: `Vec<Vec<u8>>` as a list of base64url strings.
pub mod b64_byte_lists {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes each byte string as base64url.
    pub fn serialize<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(items.len()))?;
        for item in items {
            seq.serialize_element(&super::b64(item))?;
        }
        seq.end()
    }

    /// Deserializes a list of base64url strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| super::unb64(text).map_err(|_| serde::de::Error::custom("invalid base64url")))
            .collect()
    }
}

/// Serde adapter: `[u8; N]` as a base64url string.
pub mod b64_array {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes a byte array as base64url.
    pub fn serialize<S: Serializer, const N: usize>(bytes: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::b64(bytes))
    }

    /// Deserializes base64url into exactly `N` bytes.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        super::unb64_array(&text)
            .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes in base64url")))
    }
}

/// Serde adapter: `[u8; N]` as lowercase hex.
pub mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes a byte array as lowercase hex.
    pub fn serialize<S: Serializer, const N: usize>(bytes: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        super::with_hex(bytes, |text| s.serialize_str(text))
    }

    /// Deserializes lowercase or uppercase hex into exactly `N` bytes.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
        decode(&String::deserialize(d)?)
    }

    /// Hex text (surrounding spaces ignored) into exactly `N` bytes, or a serde error.
    pub(super) fn decode<E: serde::de::Error, const N: usize>(text: &str) -> Result<[u8; N], E> {
        let mut out = [0u8; N];
        hex::decode_to_slice(text.trim(), &mut out)
            .map_err(|_| E::custom(format!("expected {N} bytes in hex")))?;
        Ok(out)
    }
}

/// Serde adapter: `Vec<[u8; N]>` as a list of lowercase hex strings.
pub mod hex_arrays {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes each array as lowercase hex.
    pub fn serialize<S: Serializer, const N: usize>(items: &[[u8; N]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(items.len()))?;
        for item in items {
            super::with_hex(item, |text| seq.serialize_element(text))?;
        }
        seq.end()
    }

    /// Deserializes a list of hex strings of exactly `N` bytes each.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<Vec<[u8; N]>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|text| super::hex_array::decode(text))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_with_hex_matches_hex_encode_on_and_past_the_stack_buffer() {
        for len in 0..=100usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(
                super::with_hex(&bytes, str::to_owned),
                hex::encode(&bytes),
                "{len} bytes"
            );
        }
    }
}
