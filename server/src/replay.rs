//! The nonces of signed unit requests, remembered for as long as their timestamps are accepted,
//! so that a captured request cannot be played again within its validity window.
//!
//! Memory is bounded: a nonce is remembered only after the signature verified and the unit's
//! rate limit let the request through, so a unit holds at most what its rate allows within the
//! window (its burst, plus its rate over twice the allowed skew); units are those of the
//! directory.

use std::collections::HashMap;
use std::sync::Mutex;

use tipline_core::request_auth::NONCE_LEN;

use crate::limits::RateLimits;

/// Why a nonce was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Seen before within the window: a replay.
    Replayed,
    /// The unit's book is full (more requests than its rate allows); try again shortly.
    Full,
}

/// The nonces seen, by unit.
#[derive(Debug)]
pub struct NonceBook {
    units: Mutex<HashMap<String, HashMap<[u8; NONCE_LEN], i64>>>,
    skew_secs: i64,
    per_unit: usize,
}

impl NonceBook {
    /// A book for timestamps accepted within `skew_secs` of the clock, either way, and units
    /// limited to `rates`.
    pub fn new(skew_secs: i64, rates: &RateLimits) -> Self {
        let window_secs = u64::try_from(skew_secs.max(0)).unwrap_or(0).saturating_mul(2) + 1;
        let per_window = u64::from(rates.unit.per_minute)
            .saturating_mul(window_secs)
            .div_ceil(60);
        let per_unit = usize::try_from(per_window + u64::from(rates.unit.burst) + 1).unwrap_or(usize::MAX);
        NonceBook {
            units: Mutex::new(HashMap::new()),
            skew_secs,
            per_unit,
        }
    }

    /// How many nonces one unit may have remembered at once.
    pub fn capacity_per_unit(&self) -> usize {
        self.per_unit
    }

    /// Remembers `nonce` of `unit_id`'s request signed at `timestamp` (already checked to be
    /// within the skew of `now`), or refuses it if it was seen.
    pub fn remember(
        &self,
        unit_id: &str,
        nonce: [u8; NONCE_LEN],
        timestamp: i64,
        now: i64,
    ) -> Result<(), Refusal> {
        let mut units = self.units.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let seen = units.entry(unit_id.to_owned()).or_default();
        if seen.contains_key(&nonce) {
            return Err(Refusal::Replayed);
        }
        if seen.len() >= self.per_unit {
            // After `forget_at`, the timestamp is refused as skewed: the nonce need not be kept.
            seen.retain(|_, forget_at| *forget_at >= now);
            if seen.len() >= self.per_unit {
                return Err(Refusal::Full);
            }
        }
        seen.insert(nonce, timestamp.saturating_add(self.skew_secs));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(per_minute: u32, burst: u32) -> RateLimits {
        RateLimits {
            unit: crate::limits::Rate::new(per_minute, burst),
            ..RateLimits::default()
        }
    }

    #[test]
    fn test_a_nonce_is_taken_once_per_unit() {
        let book = NonceBook::new(60, &rates(60, 10));
        assert_eq!(book.remember("a", [1; 16], 100, 100), Ok(()));
        assert_eq!(book.remember("a", [1; 16], 100, 101), Err(Refusal::Replayed));
        // Another unit's nonces are its own.
        assert_eq!(book.remember("b", [1; 16], 100, 101), Ok(()));
    }

    #[test]
    fn test_the_book_is_bounded_by_the_rate_in_the_window() {
        // 60 a minute over a window of 2 x 60 s + 1: 121, plus a burst of 10, plus one.
        let book = NonceBook::new(60, &rates(60, 10));
        assert_eq!(book.capacity_per_unit(), 132);
        for n in 0..132u32 {
            let mut nonce = [0; 16];
            nonce[..4].copy_from_slice(&n.to_be_bytes());
            assert_eq!(book.remember("a", nonce, 100, 100), Ok(()));
        }
        assert_eq!(book.remember("a", [9; 16], 100, 100), Err(Refusal::Full));
        // Once their timestamps are out of the window, the old nonces are forgotten.
        assert_eq!(book.remember("a", [9; 16], 200, 200), Ok(()));
    }
}
