//! The storage budget: report and attachment intake is refused with 507 `storage_full` before
//! the store would grow past its budget, so that an anonymous client cannot fill the disk and a
//! full disk never corrupts what is stored. What the store takes is measured from the store
//! (at most once a second) plus what was accepted since.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{AppError, AppResult};
use crate::store::Store;

/// How long a measurement of the store's size is used before it is taken again.
const REFRESH: Duration = Duration::from_secs(1);

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

    /// Whether `incoming` more bytes fit: 507 `storage_full` if not.
    pub async fn check(&self, store: &dyn Store, incoming: u64) -> AppResult<()> {
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
        if used.saturating_add(incoming) > self.budget {
            tracing::warn!(
                budget = self.budget,
                used,
                "storage budget reached: intake refused"
            );
            return Err(AppError::storage_full());
        }
        Ok(())
    }

    /// Counts `bytes` accepted into the store.
    pub fn add(&self, bytes: u64) {
        self.since.fetch_add(bytes, Ordering::Relaxed);
    }
}
