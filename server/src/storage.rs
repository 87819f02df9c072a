//! The storage budget: report and attachment intake is refused with 507 `storage_full` before
//! the store would grow past its budget, so that an anonymous client cannot fill the disk and a
//! full disk never corrupts what is stored. What the store takes is measured from the store
//! (at most once a second) plus what was accepted since.
//!
//! Attachments (declared by a report, or uploaded) may fill the budget only up to what it keeps
//! for reports' envelopes, a sixteenth of it: an attacker who filed reports with stamps and
//! filled the attachments' share with uploads still leaves room for text reports, which are
//! what a reporter under such an attack most needs to get through (a report's envelope is at
//! most about 1 MiB, so a sixteenth of even a small budget of 1 GiB holds tens of thousands).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{AppError, AppResult};
use crate::store::Store;

/// How long a measurement of the store's size is used before it is taken again.
const REFRESH: Duration = Duration::from_secs(1);
/// The part of the budget kept for reports' envelopes: attachments may take all but
/// `1 / ENVELOPES_SHARE` of it.
const ENVELOPES_SHARE: u64 = 16;

/// The budget and what the store takes.
#[derive(Debug)]
pub struct StorageBudget {
    budget: u64,
    /// When the store was last measured, and what it took then.
    measured: Mutex<Option<(Instant, u64)>>,
    /// Bytes accepted since.
    since: AtomicU64,
}

impl StorageBudget {
    /// A budget of `budget` bytes (`u64::MAX`: none).
    pub fn new(budget: u64) -> Self {
        StorageBudget {
            budget,
            measured: Mutex::new(None),
            since: AtomicU64::new(0),
        }
    }

    /// The budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Whether `incoming` more bytes of a report's envelope fit the whole budget: 507
    /// `storage_full` if not.
    pub async fn check(&self, store: &dyn Store, incoming: u64) -> AppResult<()> {
        self.check_within(store, incoming, self.budget).await
    }

    /// Whether `incoming` more bytes of attachments (with the envelope of the report that
    /// declares them) fit the attachments' share of the budget: 507 `storage_full` if not.
    pub async fn check_attachments(&self, store: &dyn Store, incoming: u64) -> AppResult<()> {
        let share = self.budget.saturating_sub(self.budget / ENVELOPES_SHARE);
        self.check_within(store, incoming, share).await
    }

    async fn check_within(&self, store: &dyn Store, incoming: u64, budget: u64) -> AppResult<()> {
        if self.budget == u64::MAX {
            return Ok(());
        }
        let known = *self.measured.lock().unwrap_or_else(PoisonError::into_inner);
        let used = match known {
            Some((at, used)) if at.elapsed() < REFRESH => {
                used.saturating_add(self.since.load(Ordering::Relaxed))
            }
            _ => {
                let used = store.usage().await?;
                *self.measured.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), used));
                self.since.store(0, Ordering::Relaxed);
                used
            }
        };
        if used.saturating_add(incoming) > budget {
            tracing::warn!(budget, used, "storage budget reached: intake refused");
            return Err(AppError::storage_full());
        }
        Ok(())
    }

    /// Counts `bytes` accepted into the store.
    pub fn add(&self, bytes: u64) {
        self.since.fetch_add(bytes, Ordering::Relaxed);
    }
}
