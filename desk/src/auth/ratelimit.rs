//! Bounds on guessing: failed sign-in attempts per account, and failures overall, each counted
//! in a sliding window. A locked account is refused before its password is even checked, so a
//! guesser learns nothing more and spends no hashing time of the desk's.
//!
//! An attempt counts as a failure from the moment it is let through: [`Limiter::attempt`]
//! reserves its place before the password is hashed, and a step that passes gives it back
//! ([`Limiter::passed`]). So many attempts sent at once are counted as they arrive, not only
//! once each has been checked, and cannot all slip past the limit together. Successes do not
//! count overall, so a busy morning of officers signing in never trips the desk's own limit.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Failed attempts allowed per account in [`ACCOUNT_WINDOW`].
pub const ACCOUNT_FAILURES: usize = 5;
/// Seconds over which an account's failures count.
pub const ACCOUNT_WINDOW: i64 = 15 * 60;
/// Failed attempts allowed overall in [`OVERALL_WINDOW`].
pub const OVERALL_FAILURES: usize = 60;
/// Seconds over which all failures count.
pub const OVERALL_WINDOW: i64 = 60;
/// Accounts (named in attempts) tracked at once; a flood of made-up names is bounded too.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Default)]
struct Windows {
    failures: HashMap<String, VecDeque<i64>>,
    overall: VecDeque<i64>,
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
    /// Too many failures on the desk overall.
    Overall,
}

/// Drops the times of `window` older than `span` seconds before `now`.
fn expire(window: &mut VecDeque<i64>, span: i64, now: i64) {
    while window.front().is_some_and(|&t| now - t >= span) {
        window.pop_front();
    }
}

/// Removes one `at` from `window`, if there.
fn give_back(window: &mut VecDeque<i64>, at: i64) {
    if let Some(i) = window.iter().rposition(|&t| t == at) {
        window.remove(i);
    }
}

impl Limiter {
    fn inner(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets an attempt on `account` at `now` through, counted as a failure until it passes
    /// ([`Limiter::passed`]), or refuses it.
    pub fn attempt(&self, account: &str, now: i64) -> Result<(), Limited> {
        let mut w = self.inner();
        expire(&mut w.overall, OVERALL_WINDOW, now);
        if w.overall.len() >= OVERALL_FAILURES {
            return Err(Limited::Overall);
        }
        if let Some(failures) = w.failures.get_mut(account) {
            expire(failures, ACCOUNT_WINDOW, now);
            if failures.len() >= ACCOUNT_FAILURES {
                return Err(Limited::Account);
            }
        }
        if w.failures.len() >= MAX_TRACKED && !w.failures.contains_key(account) {
            w.failures
                .retain(|_, f| f.back().is_some_and(|&t| now - t < ACCOUNT_WINDOW));
            if w.failures.len() >= MAX_TRACKED {
                // Every slot holds a recent failure: refused, as when too many fail overall.
                return Err(Limited::Overall);
            }
        }
        w.overall.push_back(now);
        w.failures.entry(account.to_owned()).or_default().push_back(now);
        Ok(())
    }

    /// The attempt on `account` let through at `at` passed its step: it is not a failure.
    pub fn passed(&self, account: &str, at: i64) {
        let mut w = self.inner();
        give_back(&mut w.overall, at);
        if let Some(failures) = w.failures.get_mut(account) {
            give_back(failures, at);
            if failures.is_empty() {
                w.failures.remove(account);
            }
        }
    }

    /// Forgets `account`'s failures (after it signed in).
    pub fn succeeded(&self, account: &str, at: i64) {
        let mut w = self.inner();
        give_back(&mut w.overall, at);
        w.failures.remove(account);
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
        }
        assert_eq!(limiter.attempt("anna", 1), Err(Limited::Account));
        assert!(limiter.attempt("bo", 1).is_ok());
        assert!(limiter.attempt("anna", ACCOUNT_WINDOW).is_ok());
    }

    #[test]
    fn test_attempts_at_once_are_counted_before_any_is_checked() {
        // Many guesses sent together: only as many are let through as failures are allowed.
        let limiter = Limiter::default();
        let through = (0..60).filter(|_| limiter.attempt("anna", 0).is_ok()).count();
        assert_eq!(through, ACCOUNT_FAILURES);
    }

    #[test]
    fn test_passing_steps_and_signing_in_are_not_failures() {
        let limiter = Limiter::default();
        // Officers signing in all morning never lock anyone or the desk
        for i in 0..(OVERALL_FAILURES * 3) {
            let name = format!("u{}", i % 7);
            limiter.attempt(&name, 5).unwrap();
            limiter.passed(&name, 5);
            limiter.attempt(&name, 5).unwrap();
            limiter.succeeded(&name, 5);
        }
        // and a right password before a mistyped code counts once, for the code
        for _ in 0..(ACCOUNT_FAILURES - 1) {
            limiter.attempt("anna", 9).unwrap();
            limiter.passed("anna", 9);
            limiter.attempt("anna", 9).unwrap();
        }
        assert!(limiter.attempt("anna", 9).is_ok());
        assert_eq!(limiter.attempt("anna", 9), Err(Limited::Account));
    }

    #[test]
    fn test_failures_overall_are_bounded() {
        let limiter = Limiter::default();
        for i in 0..OVERALL_FAILURES {
            limiter.attempt(&format!("u{i}"), 0).unwrap();
        }
        assert_eq!(limiter.attempt("anyone", 1), Err(Limited::Overall));
        assert!(limiter.attempt("anyone", OVERALL_WINDOW).is_ok());
    }
}
