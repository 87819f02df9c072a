//! Retention: sealed reports, their attachments and case messages are deleted a configurable
//! time after the desk acknowledged them (default 90 days), and expired alerts with them. A
//! background task runs the purge every hour (configurable). Reports no desk ever acknowledged,
//! and uploads never completed, are deleted a configurable time after they arrived (default 30
//! days), so that what an anonymous client leaves behind does not stay for good.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::store::{Expired, Store, StoreResult};

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

/// Deletes reports never acknowledged and uploads never completed that were received more than
/// `keep` before `now`.
pub async fn expire_once(
    store: &dyn Store,
    keep: chrono::Duration,
    now: DateTime<Utc>,
) -> StoreResult<Expired> {
    let received_before = now.checked_sub_signed(keep).unwrap_or(DateTime::<Utc>::MIN_UTC);
    store.expire(received_before).await
}

/// Runs [`purge_once`] and [`expire_once`] (with the settings' `unacknowledged_retention`) now
/// and then every `every`, until the state shuts down. Also lets the rate limiters forget idle
/// buckets.
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
            let keep = state.settings().unacknowledged_retention;
            match expire_once(state.store(), keep, Utc::now()).await {
                Ok(Expired {
                    reports: 0,
                    uploads: 0,
                }) => {}
                Ok(Expired { reports, uploads }) => {
                    tracing::info!(
                        reports,
                        uploads,
                        "retention: deleted what was never acknowledged or completed"
                    )
                }
                Err(e) => tracing::error!(error = %e, "retention: expiry failed"),
            }
            state.limiters().shrink();
        }
    })
}
