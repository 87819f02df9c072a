//! The crypto error: deliberately terse. It never says *why* opening failed, so that an attacker
//! probing with altered ciphertexts learns nothing from the answer.

/// An error from the cryptographic layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A key had the wrong length or was not a valid point or scalar.
    #[error("invalid key")]
    InvalidKey,
    /// Authentication failed: wrong key, altered bytes, or a message moved out of its context.
    #[error("decryption failed")]
    Decrypt,
    /// A version or suite this build does not know. Checked before any cryptography runs.
    #[error("unsupported version or suite")]
    UnsupportedVersion,
    /// The bytes do not have the structure the format requires (lengths, flags, trailing data).
    #[error("malformed input")]
    Malformed,
    /// A signature did not verify against the expected key.
    #[error("bad signature")]
    BadSignature,
    /// The operating system's random source failed.
    #[error("random source failed")]
    Random,
    /// The sequence number of an HPKE context would overflow (RFC 9180, section 5.2).
    #[error("message limit reached")]
    MessageLimit,
}
