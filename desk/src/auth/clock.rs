//! The desk's clock, in Unix seconds: the system's, or one a test sets and moves, so that
//! session expiry and TOTP codes can be tested without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Where the time comes from.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock moved by hand.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock at `now`.
    pub fn manual(now: i64) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(now)))
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        match self {
            Clock::System => chrono::Utc::now().timestamp(),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock on by `seconds` (nothing for the system clock).
    pub fn advance(&self, seconds: i64) {
        if let Clock::Manual(t) = self {
            t.fetch_add(seconds, Ordering::SeqCst);
        }
    }
}
