//! The anti-abuse stamp: a proof of work over the envelope's digest, in the way anonymous
//! submission systems ask a submitter without an account to spend a little CPU per submission.
//!
//! A stamp for an envelope with digest `d` at difficulty `k` is a nonce `n` (u64) such that
//! `SHA-256("tipline stamp v1" || 0x00 || d || I2OSP(n, 8))` starts with `k` zero bits. It is bound
//! to the envelope, so it cannot be reused for another report; the server announces `k`.

use crate::crypto::sha256;

const LABEL: &[u8] = b"tipline stamp v1\0";
/// The highest difficulty the code accepts; beyond it a phone would work for hours.
pub const MAX_DIFFICULTY: u8 = 32;

fn hash(digest: &[u8; 32], nonce: u64) -> [u8; 32] {
    let mut input = [0u8; LABEL.len() + 32 + 8];
    input[..LABEL.len()].copy_from_slice(LABEL);
    input[LABEL.len()..LABEL.len() + 32].copy_from_slice(digest);
    input[LABEL.len() + 32..].copy_from_slice(&nonce.to_be_bytes());
    sha256(&input)
}

fn leading_zero_bits(hash: &[u8; 32]) -> u32 {
    let mut bits = 0;
    for byte in hash {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

/// Whether `nonce` is a valid stamp for `digest` at `difficulty`.
pub fn verify(digest: &[u8; 32], difficulty: u8, nonce: u64) -> bool {
    difficulty <= MAX_DIFFICULTY && leading_zero_bits(&hash(digest, nonce)) >= u32::from(difficulty)
}

/// Finds a stamp for `digest` at `difficulty` (on average `2^difficulty` hashes), or `None` if the
/// difficulty is above [`MAX_DIFFICULTY`].
pub fn solve(digest: &[u8; 32], difficulty: u8) -> Option<u64> {
    if difficulty > MAX_DIFFICULTY {
        return None;
    }
    (0..=u64::MAX).find(|&nonce| verify(digest, difficulty, nonce))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_solved_stamp_verifies_and_is_bound_to_the_digest() {
        let digest = sha256(b"an envelope");
        let nonce = solve(&digest, 12).unwrap();
        assert!(verify(&digest, 12, nonce));
        assert!(leading_zero_bits(&hash(&digest, nonce)) >= 12);
        // The same nonce for another envelope almost never verifies at this difficulty; check a few.
        let misses = (0..32u8).filter(|i| !verify(&sha256(&[*i]), 12, nonce)).count();
        assert!(misses >= 30);
    }

    #[test]
    fn test_difficulty_bounds() {
        let digest = sha256(b"x");
        assert!(verify(&digest, 0, 0));
        assert_eq!(solve(&digest, MAX_DIFFICULTY + 1), None);
        assert!(!verify(&digest, MAX_DIFFICULTY + 1, 0));
    }
}
