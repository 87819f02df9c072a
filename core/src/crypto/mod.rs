//! The cryptographic building blocks, composed from ring (AEAD, HMAC, SHA-256, Ed25519,
//! randomness) and x25519-dalek (static X25519 keys, which ring cannot load).
//!
//! Nothing here knows about reports or envelopes; those live one level up.

pub mod error;
pub mod hpke;
pub mod kdf;
pub mod kem;
pub mod padding;
pub mod random;

pub use error::CryptoError;
pub use hpke::{Aead, Context, Suite};
pub use random::{OsRandom, RandomSource};

/// SHA-256 of `data`, as raw bytes.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Whether two hashes are equal, in time independent of where they differ (for hashes of
/// secrets, such as a case secret's).
pub fn hashes_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_hashes_equal_only_when_every_byte_is() {
        let a = sha256(b"a");
        let mut b = a;
        assert!(hashes_equal(&a, &b));
        b[31] ^= 1;
        assert!(!hashes_equal(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!hashes_equal(&a, &b));
    }
}
