//! Where randomness comes from. Every function that draws randomness takes a `RandomSource`
//! (through a `*_with_rng` twin) so that known-answer tests can be exact.

use super::CryptoError;

/// A source of cryptographically secure random bytes.
pub trait RandomSource {
    /// Fills `dest` entirely with random bytes.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError>;
}

/// The operating system's random source, through ring.
pub struct OsRandom(ring::rand::SystemRandom);

impl OsRandom {
    /// A handle on the operating system's random source.
    pub fn new() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl RandomSource for OsRandom {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), CryptoError> {
        ring::rand::SecureRandom::fill(&self.0, dest).map_err(|_| CryptoError::Random)
    }
}

/// Draws an array of `N` random bytes.
pub fn random_array<const N: usize>(rng: &mut dyn RandomSource) -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    rng.fill(&mut out)?;
    Ok(out)
}
