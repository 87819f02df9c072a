//! The Oblivious HTTP gateway (RFC 9458): requests encapsulated by a citizen's device arrive
//! through a relay, are opened here and handed to the same router as direct requests, and the
//! answers go back encapsulated. The relay sees the device's address but only ciphertext; this
//! server sees the request but only the relay's address, which it never looks at either.
//!
//! The routes are in [`crate::routes::gateway`]; this module holds the keys and the book of
//! requests seen, which refuses a replayed encapsulation within its freshness window.

pub mod keys;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub use keys::GatewayKeys;

/// Seconds a request's `Date` may be off the gateway's clock, either way (RFC 9458 section 6.5):
/// older requests are refused, so the book only needs to remember this window.
pub const DATE_SKEW_SECS: i64 = 300;
/// Encapsulations remembered at once: more requests than the routes' rate limits let through in
/// twice [`DATE_SKEW_SECS`]. Past it, requests are answered `503 busy` until old ones expire.
pub const MAX_REMEMBERED: usize = 1 << 18;

/// The gateway's state: its live keys (none until set) and the encapsulations seen.
#[derive(Debug, Default)]
pub struct GatewayState {
    keys: RwLock<Option<Arc<GatewayKeys>>>,
    seen: Mutex<HashMap<[u8; 32], i64>>,
}

/// Why an encapsulation was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The same encapsulation arrived before within the window.
    Replayed,
    /// The book is full.
    Full,
}

impl GatewayState {
    /// The live keys, if the gateway is on.
    pub fn keys(&self) -> Option<Arc<GatewayKeys>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Puts `keys` in use (at start, and when the folder is read again).
    pub fn set_keys(&self, keys: GatewayKeys) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(keys));
    }

    /// Remembers the encapsulated key `enc` of a request dated `date` (already within the skew
    /// of `now`), or refuses it if it was seen.
    pub fn remember(&self, enc: [u8; 32], date: i64, now: i64) -> Result<(), Seen> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.get(&enc).is_some_and(|expiry| *expiry >= now) {
            return Err(Seen::Replayed);
        }
        if seen.len() >= MAX_REMEMBERED {
            seen.retain(|_, expiry| *expiry >= now);
            if seen.len() >= MAX_REMEMBERED {
                return Err(Seen::Full);
            }
        }
        seen.insert(enc, date.saturating_add(DATE_SKEW_SECS));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_an_encapsulation_is_taken_once_within_its_window() {
        let state = GatewayState::default();
        assert_eq!(state.remember([1; 32], 1000, 1000), Ok(()));
        assert_eq!(state.remember([1; 32], 1000, 1200), Err(Seen::Replayed));
        assert_eq!(state.remember([2; 32], 1000, 1000), Ok(()));
        // Past the window its date would be refused anyway, and the book forgets it
        assert_eq!(state.remember([1; 32], 1400, 1400), Ok(()));
    }
}
