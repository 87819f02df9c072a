//! Receiving reports: one pull of what is waiting, or the live inbox held open. Each report is
//! taken whole (stored, attachments fetched and checked, acknowledged) before the next, so an
//! interruption loses nothing the server would not deliver again.

use std::time::Duration;

use anyhow::bail;
use serde_json::json;
use tipline_core::desk::{Desk, DeskEvent, InboxOptions, Received};
use tokio::sync::mpsc;

use super::show::{conversation, describe, record_json};
use crate::output::Output;

/// Takes the reports pending now (pull), then stops.
/// A report that cannot be taken (sealed to an old key, refused by its checks) is told and
/// passed over, as the live inbox does: it stays on the server, leased for a while, and the
/// reports behind it are taken. Only this desk's own store failing stops the pull.
pub(super) async fn pull_inbox(desk: &Desk, wait: Duration, out: &Output) -> anyhow::Result<()> {
    let mut received = Vec::new();
    let mut refused = 0usize;
    loop {
        let batch = desk.client().pull(100).await?;
        if batch.is_empty() {
            break;
        }
        for delivery in batch {
            match desk.receive_waiting(&delivery, wait).await {
                Ok(taken) => received.push(show(&taken, delivery.delivery_count, out)),
                Err(e @ (tipline_core::Error::Storage(_) | tipline_core::Error::Io(_))) => {
                    return Err(e.into())
                }
                Err(e) => {
                    refused += 1;
                    out.note(&format!(
                        "report {} could not be taken ({e}); it stays on the server",
                        delivery.report_id
                    ));
                }
            }
        }
    }
    if received.is_empty() && refused == 0 {
        out.note("no reports waiting");
    }
    out.json_only(&received)?;
    if refused > 0 {
        bail!("{refused} report(s) could not be taken; they stay on the server");
    }
    Ok(())
}

/// Holds the live stream (through the core's receiving loop): every report as it arrives, and
/// follow-up notices. With `once`, stops after the reports that arrive together with the first.
pub(super) async fn follow_inbox(
    desk: &Desk,
    once: bool,
    wait: Duration,
    out: &Output,
) -> anyhow::Result<()> {
    let (events, mut rx) = mpsc::channel(16);
    let options = InboxOptions {
        attachment_wait: wait,
        ..InboxOptions::default()
    };
    let run = desk.run_inbox(options, events, std::future::pending());
    let show = async {
        let mut received = Vec::new();
        let started = tokio::time::Instant::now();
        loop {
            let next = if once && !received.is_empty() {
                // The first report came: take what arrived with it, then stop.
                match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
                    Ok(next) => next,
                    Err(_) => return out.json_only(&received),
                }
            } else if once {
                let left = wait.saturating_sub(started.elapsed());
                match tokio::time::timeout(left, rx.recv()).await {
                    Ok(next) => next,
                    Err(_) => bail!("no report arrived within {} s", wait.as_secs()),
                }
            } else {
                tokio::select! {
                    next = rx.recv() => next,
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            };
            match next {
                Some(DeskEvent::Connected) => out.note(&format!(
                    "{}: live inbox open, waiting for reports",
                    desk.unit_id()
                )),
                Some(DeskEvent::Received {
                    received: taken,
                    delivery_count,
                }) => received.push(show(&taken, delivery_count, out)),
                Some(DeskEvent::Refused { report_id, reason }) => out.note(&format!(
                    "report {report_id} could not be taken ({reason}); it stays on the server"
                )),
                Some(DeskEvent::FollowUp { report_id, message }) => {
                    let text = message
                        .map(|m| conversation(std::slice::from_ref(&m)))
                        .unwrap_or_default();
                    out.line(&format!("follow-up in the case of report {report_id}:\n{text}"));
                }
                Some(DeskEvent::Disconnected { reason, retry_in }) => out.note(&format!(
                    "the live inbox broke off ({reason}); reconnecting in {} s",
                    retry_in.as_secs()
                )),
                None => return Ok(()),
            }
        }
    };
    tokio::select! {
        result = run => Ok(result?),
        result = show => result,
    }
}

/// Shows what receiving a report did; its JSON for `--json`.
fn show(received: &Received, delivery_count: u32, out: &Output) -> serde_json::Value {
    let record = &received.record;
    out.line(&describe(record));
    if !received.pending.is_empty() {
        out.line(&format!(
            "  attachments {:?} are still uploading: not acknowledged, it comes again",
            received.pending
        ));
    } else {
        out.line("  acknowledged: stored at this desk, the server will not deliver it again");
    }
    out.line("");
    let mut value = record_json(record);
    value["first_time"] = json!(received.first_time);
    value["pending"] = json!(received.pending);
    value["delivery_count"] = json!(delivery_count);
    value
}
