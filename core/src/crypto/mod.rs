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
