//! Receiving reports: one pull of what is waiting, or the live inbox held open. Each report is
//! taken whole (stored, attachments fetched and checked, acknowledged) before the next, so an
//! interruption loses nothing the server would not deliver again.

use std::time::Duration;

use anyhow::bail;
use serde_json::json;
use tipline_core::desk::{Delivery, Desk, InboxEvent, Received};

use super::show::{conversation, describe, record_json};
use crate::output::Output;

/// Takes the reports pending now (pull), then stops.
pub(super) async fn pull_inbox(desk: &Desk, wait: Duration, out: &Output) -> anyhow::Result<()> {
    let mut received = Vec::new();
    loop {
        let batch = desk.client().pull(100).await?;
        if batch.is_empty() {
            break;
        }
        for delivery in batch {
            received.push(take(desk, &delivery, wait, out).await?);
        }
    }
    if received.is_empty() {
        out.note("no reports waiting");
    }
    out.json_only(&received)
}

/// Holds the live stream: every report as it arrives (and follow-up notices). With `once`,
/// stops after the reports that arrive together with the first.
pub(super) async fn follow_inbox(
    desk: &Desk,
    once: bool,
    wait: Duration,
    out: &Output,
) -> anyhow::Result<()> {
    let mut received = Vec::new();
    let started = tokio::time::Instant::now();
    loop {
        let mut stream = desk.client().inbox_stream().await?;
        out.note(&format!(
            "{}: live inbox open, waiting for reports",
            desk.unit_id()
        ));
        loop {
            let next = if once && !received.is_empty() {
                // The first report came: take what arrived with it, then stop.
                match tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
                    Ok(next) => next,
                    Err(_) => return out.json_only(&received),
                }
            } else if once {
                let left = wait.saturating_sub(started.elapsed());
                match tokio::time::timeout(left, stream.next()).await {
                    Ok(next) => next,
                    Err(_) => bail!("no report arrived within {} s", wait.as_secs()),
                }
            } else {
                tokio::select! {
                    next = stream.next() => next,
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            };
            match next {
                Ok(Some(InboxEvent::Report(delivery))) => {
                    received.push(take(desk, &delivery, wait, out).await?);
                }
                Ok(Some(InboxEvent::Message { case_id, seq })) => {
                    if let Some(record) = desk.report_for_case(case_id)? {
                        let messages = desk.sync_messages(&record.report_id.to_string()).await?;
                        let text = messages
                            .iter()
                            .rev()
                            .find(|m| m.seq == seq)
                            .map(|m| conversation(std::slice::from_ref(m)))
                            .unwrap_or_default();
                        out.line(&format!(
                            "follow-up in the case of report {}:\n{text}",
                            record.report_id
                        ));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    out.note(&format!("the live inbox broke off ({e}); reconnecting"));
                    break;
                }
            }
        }
        if once && !received.is_empty() {
            return out.json_only(&received);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Receives one delivery, waiting (bounded) for attachments still uploading, and shows it.
async fn take(
    desk: &Desk,
    delivery: &Delivery,
    wait: Duration,
    out: &Output,
) -> anyhow::Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut received: Received = desk.receive(delivery).await?;
    while !received.pending.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        received = desk.retry_attachments(delivery.report_id).await?;
    }
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
    value["delivery_count"] = json!(delivery.delivery_count);
    Ok(value)
}
