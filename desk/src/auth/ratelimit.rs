//! Bounds on guessing: failed sign-in attempts per account, and attempts overall, each counted
//! in a sliding window. A locked account is refused before its password is even checked, so a
//! guesser learns nothing more and spends no hashing time of the desk's.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Failed attempts allowed per account in [`ACCOUNT_WINDOW`].
pub const ACCOUNT_FAILURES: usize = 5;
/// Seconds over which an account's failures count.
pub const ACCOUNT_WINDOW: i64 = 15 * 60;
/// Attempts allowed overall in [`OVERALL_WINDOW`].
pub const OVERALL_ATTEMPTS: usize = 60;
/// Seconds over which all attempts count.
pub const OVERALL_WINDOW: i64 = 60;
/// Accounts (named in attempts) tracked at once; a flood of made-up names is bounded too.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Default)]
struct Windows {
    failures: HashMap<String, VecDeque<i64>>,
    attempts: VecDeque<i64>,
}

/// The sign-in limits.
#[derive(Debug, Default)]
pub struct Limiter {
    inner: Mutex<Windows>,
}

/// Why an attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// This account failed too often lately.
    Account,
    /// Too many attempts on the desk overall.
    Overall,
}

impl Limiter {
    fn inner(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an attempt on `account` now, or refuses it.
    pub fn attempt(&self, account: &str, now: i64) -> Result<(), Limited> {
        let mut w = self.inner();
        while w.attempts.front().is_some_and(|&t| now - t >= OVERALL_WINDOW) {
            w.attempts.pop_front();
        }
        if w.attempts.len() >= OVERALL_ATTEMPTS {
            return Err(Limited::Overall);
        }
        if let Some(failures) = w.failures.get_mut(account) {
            while failures.front().is_some_and(|&t| now - t >= ACCOUNT_WINDOW) {
                failures.pop_front();
            }
            if failures.len() >= ACCOUNT_FAILURES {
                return Err(Limited::Account);
            }
        }
        w.attempts.push_back(now);
        Ok(())
    }

    /// Records a failure of `account` now.
    pub fn failed(&self, account: &str, now: i64) {
        let mut w = self.inner();
        if w.failures.len() >= MAX_TRACKED && !w.failures.contains_key(account) {
            w.failures
                .retain(|_, f| f.back().is_some_and(|&t| now - t < ACCOUNT_WINDOW));
            if w.failures.len() >= MAX_TRACKED {
                return;
            }
        }
        w.failures.entry(account.to_owned()).or_default().push_back(now);
    }

    /// Forgets `account`'s failures (after it signed in).
    pub fn succeeded(&self, account: &str) {
        self.inner().failures.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_an_account_locks_after_its_failures_and_unlocks_later() {
        let limiter = Limiter::default();
        for _ in 0..ACCOUNT_FAILURES {
            limiter.attempt("anna", 0).unwrap();
            limiter.failed("anna", 0);
        }
        assert_eq!(limiter.attempt("anna", 1), Err(Limited::Account));
        assert!(limiter.attempt("bo", 1).is_ok());
        assert!(limiter.attempt("anna", ACCOUNT_WINDOW).is_ok());
    }

    #[test]
    fn test_overall_attempts_are_bounded() {
        let limiter = Limiter::default();
        for i in 0..OVERALL_ATTEMPTS {
            limiter.attempt(&format!("u{i}"), 0).unwrap();
        }
        assert_eq!(limiter.attempt("anyone", 1), Err(Limited::Overall));
        assert!(limiter.attempt("anyone", OVERALL_WINDOW).is_ok());
    }
}
