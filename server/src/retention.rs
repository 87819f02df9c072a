//! Retention: sealed reports, their attachments and case messages are deleted a configurable
//! time after the desk acknowledged them (default 90 days), and expired alerts with them. A
//! background task runs the purge every hour (configurable).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::store::{Store, StoreResult};

/// Purges what was acknowledged more than `retention` before `now`; returns how many reports
/// went.
pub async fn purge_once(
    store: &dyn Store,
    retention: chrono::Duration,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let acked_before = now
        .checked_sub_signed(retention)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    store.purge(acked_before, now).await
}

/// Runs [`purge_once`] now and then every `every`, until the state shuts down. Also lets the
/// rate limiter forget idle units.
pub fn spawn(state: AppState, retention: chrono::Duration, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_secs(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown = state.shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = &mut shutdown => return,
            }
            match purge_once(state.store(), retention, Utc::now()).await {
                Ok(0) => tracing::debug!("retention: nothing to purge"),
                Ok(purged) => tracing::info!(purged, "retention: purged acknowledged reports"),
                Err(e) => tracing::error!(error = %e, "retention: purge failed"),
            }
            state.limiters().shrink();
        }
    })
}
