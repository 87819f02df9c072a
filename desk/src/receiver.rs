//! The desk's side of the intake: the core's receiving loop ([`tipline_core::desk::runtime`])
//! run beside the web application, for the life of the process. Every report it takes is
//! stored (encrypted) and acknowledged by the core; here each is written in the audit log and
//! announced on the change channel, so that open inboxes list it and open report pages show a
//! reporter's follow-up, without a reload. Nothing of a report's content is logged.
//!
//! A backlog arrives as a burst of events: the events waiting are handled together, off the
//! async threads (the audit log is a synced write), with their audit entries in one commit and
//! then their announcements, in the order the loop told them.

use tipline_core::desk::{DeskEvent, InboxOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::audit::AuditEntry;
use crate::state::{AppState, ChangeKind};

/// Events waiting between the loop and their handling: the loop waits when they pile up.
const QUEUE: usize = 256;

/// Starts the receiving loop and its handling; both end when `stop` completes.
pub fn spawn(
    state: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let (events, mut received) = mpsc::channel(QUEUE);
        // A report is announced at once; attachments still uploading are tried again in the
        // background, and announced again when they are in, so its open page shows them.
        let run = state.desk.run_inbox(InboxOptions::default(), events, stop);
        let handle = async {
            let mut batch = Vec::with_capacity(QUEUE);
            while received.recv_many(&mut batch, QUEUE).await > 0 {
                let events = std::mem::take(&mut batch);
                let state = state.clone();
                let handled = tokio::task::spawn_blocking(move || handle_all(&state, events)).await;
                if let Err(e) = handled {
                    tracing::error!(error = %e, "handling the receiving loop's events failed");
                }
            }
        };
        let (result, ()) = tokio::join!(run, handle);
        if let Err(e) = result {
            // Only the local store fails this loop: the desk cannot keep reports any more.
            tracing::error!(error = %e, "the receiving loop stopped: the desk store failed");
        }
    })
}

/// What the desk does with the events of the loop waiting together: the audit entries of the
/// reports they took first, in one commit, then each event's announcement, in order.
pub fn handle_all(state: &AppState, events: Vec<DeskEvent>) {
    let entries: Vec<AuditEntry> = events
        .iter()
        .filter_map(|event| match event {
            DeskEvent::Received { received, .. } if received.first_time => {
                Some(AuditEntry::now(None, "report.received").target(received.record.report_id.to_string()))
            }
            _ => None,
        })
        .collect();
    state.audit_all(&entries);
    for event in events {
        announce(state, event);
    }
}

/// What the desk says and shows of one event of the loop.
fn announce(state: &AppState, event: DeskEvent) {
    match event {
        DeskEvent::Connected => tracing::info!("live inbox open"),
        DeskEvent::Received { received, .. } => {
            if !received.pending.is_empty() {
                tracing::info!(
                    attachments = received.pending.len(),
                    "attachments still uploading"
                );
            }
            state.report_changed(received.record.report_id, ChangeKind::Report);
        }
        DeskEvent::Refused { report_id, reason } => {
            tracing::warn!(report = %report_id, %reason, "a delivered report could not be taken");
        }
        DeskEvent::FollowUp { report_id, .. } => state.report_changed(report_id, ChangeKind::Messages),
        DeskEvent::Disconnected { reason, retry_in } => {
            tracing::warn!(%reason, retry_in_s = retry_in.as_secs(), "live inbox broke off");
        }
    }
}
