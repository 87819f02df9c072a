//! The desk's side of the intake: the core's receiving loop ([`tipline_core::desk::runtime`])
//! run beside the web application, for the life of the process. Every report it takes is
//! stored (encrypted) and acknowledged by the core; here each is written in the audit log and
//! announced on the change channel, so that open inboxes list it and open report pages show a
//! reporter's follow-up, without a reload. Nothing of a report's content is logged.

use tipline_core::desk::{DeskEvent, InboxOptions};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::audit::AuditEntry;
use crate::state::{AppState, ChangeKind};

/// Events waiting between the loop and their handling: the loop waits when they pile up.
const QUEUE: usize = 64;

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
            while let Some(event) = received.recv().await {
                handle(&state, event);
            }
        };
        let (result, ()) = tokio::join!(run, handle);
        if let Err(e) = result {
            // Only the local store fails this loop: the desk cannot keep reports any more.
            tracing::error!(error = %e, "the receiving loop stopped: the desk store failed");
        }
    })
}

/// What the desk does with one event of the loop.
fn handle(state: &AppState, event: DeskEvent) {
    match event {
        DeskEvent::Connected => tracing::info!("live inbox open"),
        DeskEvent::Received { received, .. } => {
            let id = received.record.report_id;
            if received.first_time {
                state.audit(AuditEntry::now(None, "report.received").target(id.to_string()));
            }
            if !received.pending.is_empty() {
                tracing::info!(
                    attachments = received.pending.len(),
                    "attachments still uploading"
                );
            }
            state.report_changed(id, ChangeKind::Report);
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
