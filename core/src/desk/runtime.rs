//! The receiving loop every desk front end runs (the terminal desk and the web desk alike): hold
//! the unit's live inbox, take each report whole (open, store, fetch and check its attachments,
//! acknowledge), sync a case when its reporter posts, try again the reports whose attachments
//! are still uploading, and reconnect after a broken stream, with back-off and jitter. What
//! happens is told to the front end as [`DeskEvent`]s on a channel; the front end decides what
//! to show. Like the rest of the core it owns no runtime: [`Desk::run_inbox`] is a future the
//! caller drives, and it ends when the caller stops it or drops the channel's receiver.
//!
//! The loop runs in two stages joined by a queue of one batch: the first reads the stream,
//! gathers the deliveries that arrived together and starts opening them on tokio's blocking
//! pool, then reads on; the second waits for each batch's opening, stores it, and starts its
//! acknowledgement (a request, then a commit), then takes the next batch while up to
//! `ACKS_IN_FLIGHT` acknowledgements are under way, and syncs cases, all told in the stream's
//! order. Reading, opening, storing and acknowledging a backlog so overlap instead of waiting
//! for each other: a report is still acknowledged only once it is stored.
//!
//! A report whose attachments are still uploading is not acknowledged: the server delivers it
//! again when its lease ends, and meanwhile the loop tries its attachments again every
//! [`InboxOptions::pending_retry`], so it is taken as soon as the upload completes.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use futures_util::stream::{FuturesOrdered, StreamExt as _};
use tokio::sync::mpsc;

use super::receive::Opening;
use super::{Desk, InboxEvent, InboxStream, MessageRecord, Received};
use crate::api::bounds::MAX_ACK_BATCH;
use crate::api::Delivery;
use crate::crypto::random::random_array;
use crate::crypto::OsRandom;
use crate::report::{CaseId, ReportId};
use crate::Result;

/// What the receiving loop tells its front end.
#[derive(Debug, Clone)]
pub enum DeskEvent {
    /// The live inbox is open: from now on every report committed for the unit reaches it.
    Connected,
    /// A report was taken: stored, and acknowledged unless attachments are still uploading.
    Received {
        /// What receiving it did.
        received: Box<Received>,
        /// How many times the server has delivered it, this one included.
        delivery_count: u32,
    },
    /// A delivered report could not be taken (it does not open with this unit's key, the store
    /// failed...): it stays unacknowledged on the server and comes again after its lease.
    Refused {
        /// The report.
        report_id: ReportId,
        /// Why, for the desk's log (never the report's content).
        reason: String,
    },
    /// The reporter of a stored report posted a follow-up; the case is synced.
    FollowUp {
        /// The report whose case it is.
        report_id: ReportId,
        /// The new message, opened if this desk can.
        message: Option<MessageRecord>,
    },
    /// The live inbox broke off; the loop connects again after `retry_in`.
    Disconnected {
        /// What broke, for the desk's log.
        reason: String,
        /// The wait before the next attempt.
        retry_in: Duration,
    },
}

/// How the receiving loop waits.
#[derive(Debug, Clone, Copy)]
pub struct InboxOptions {
    /// How long to wait for a report's attachments still uploading before telling the front end
    /// (the loop takes no other report meanwhile); zero tells at once and leaves the rest to
    /// [`InboxOptions::pending_retry`].
    pub attachment_wait: Duration,
    /// How often to try again the attachments of reports still uploading.
    pub pending_retry: Duration,
    /// The first wait before connecting again after a broken stream; it doubles up to
    /// `reconnect_max`, with up to a quarter more of random jitter, and starts again once
    /// connected.
    pub reconnect_min: Duration,
    /// The longest wait between attempts to connect.
    pub reconnect_max: Duration,
}

impl Default for InboxOptions {
    fn default() -> Self {
        InboxOptions {
            attachment_wait: Duration::ZERO,
            pending_retry: Duration::from_secs(2),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
        }
    }
}

/// Most deliveries taken as one batch (one commit, one acknowledgement).
const MAX_BATCH: usize = MAX_ACK_BATCH as usize;

/// Stored batches whose acknowledgements are under way at once. An acknowledgement waits for a
/// synced commit on the intake and another here, so a backlog is taken faster with a few in
/// flight: with one, the desk waited about 10 ms per 100 reports for it.
const ACKS_IN_FLIGHT: usize = 4;

/// What the stream's reader hands to the taker, in the stream's order.
enum Item {
    /// Deliveries that arrived together, and their envelopes being opened, in order.
    Batch(Vec<Delivery>, Opening),
    /// A reporter's follow-up.
    Message { case_id: CaseId, seq: i64 },
    /// The stream ended, and why.
    Ended(String),
}

/// How taking one stream's items ended.
enum Outcome {
    /// The front end stopped listening.
    Stop,
    /// The stream ended, and why: the loop connects again.
    Ended(String),
}

impl Desk {
    /// Holds the unit's live inbox and tells `events` what happens, until `stop` completes or
    /// the receiver of `events` is dropped. Returns `Ok` then; an error only if the local store
    /// fails (the server's faults and a broken network are retried).
    pub async fn run_inbox(
        &self,
        options: InboxOptions,
        events: mpsc::Sender<DeskEvent>,
        stop: impl Future<Output = ()>,
    ) -> Result<()> {
        tokio::pin!(stop);
        tokio::select! {
            result = self.inbox_loop(options, &events) => result,
            () = &mut stop => Ok(()),
            () = events.closed() => Ok(()),
        }
    }

    async fn inbox_loop(&self, options: InboxOptions, events: &mpsc::Sender<DeskEvent>) -> Result<()> {
        let mut backoff = options.reconnect_min;
        let mut pending: BTreeSet<ReportId> = BTreeSet::new();
        loop {
            let reason = match self.client().inbox_stream().await {
                Ok(stream) => {
                    backoff = options.reconnect_min;
                    if events.send(DeskEvent::Connected).await.is_err() {
                        return Ok(());
                    }
                    // Two stages: the next batch is read and opened (on the blocking pool)
                    // while this one is stored and acknowledged. One batch waits between them.
                    let (items, mut queue) = mpsc::channel(1);
                    let read = self.read_stream(stream, items);
                    tokio::pin!(read);
                    let take = self.take_items(&mut queue, options, events, &mut pending);
                    tokio::pin!(take);
                    let mut reading = true;
                    let outcome = loop {
                        tokio::select! {
                            outcome = &mut take => break outcome?,
                            () = &mut read, if reading => reading = false,
                        }
                    };
                    match outcome {
                        Outcome::Stop => return Ok(()),
                        Outcome::Ended(reason) => reason,
                    }
                }
                Err(e) => e.to_string(),
            };
            let retry_in = jittered(backoff);
            backoff = (backoff * 2).min(options.reconnect_max);
            let event = DeskEvent::Disconnected { reason, retry_in };
            if events.send(event).await.is_err() {
                return Ok(());
            }
            tokio::time::sleep(retry_in).await;
        }
    }

    /// The first stage: reads the stream, gathers the deliveries that arrived together and
    /// starts opening them, and hands them on in order with the other events, until the stream ends
    /// (its last item says why) or the second stage stops. While the second stage is busy, the
    /// batch it has not taken yet grows with the deliveries that arrive meanwhile (up to a full
    /// batch), so that a backlog is stored and acknowledged in batches as large as its pace
    /// allows instead of in the small bursts the stream brings.
    async fn read_stream(&self, mut stream: InboxStream, items: mpsc::Sender<Item>) {
        let mut held: Option<(Vec<Delivery>, Opening)> = None;
        loop {
            let room = MAX_BATCH - held.as_ref().map_or(0, |(batch, _)| batch.len());
            let next = match held.take() {
                None => stream.next().await,
                // A full batch held: it waits for the second stage.
                Some((batch, opened)) if room == 0 => {
                    if items.send(Item::Batch(batch, opened)).await.is_err() {
                        return;
                    }
                    continue;
                }
                // The held batch goes as soon as the second stage is free; until then, what
                // arrives joins it (both waits are cancel-safe: nothing is lost to the other).
                Some((batch, opened)) => tokio::select! {
                    biased;
                    free = items.reserve() => match free {
                        Ok(permit) => {
                            permit.send(Item::Batch(batch, opened));
                            continue;
                        }
                        Err(_) => return,
                    },
                    next = stream.next() => {
                        held = Some((batch, opened));
                        next
                    }
                },
            };
            let item = match next {
                Ok(Some(InboxEvent::Report(delivery))) => {
                    // The deliveries already arrived behind it join its batch.
                    let (batch, after) = gather(*delivery, &mut stream, room).await;
                    // Opened on the blocking pool while this stage reads on.
                    let opened = self.start_opening(&batch);
                    let (mut all, mut all_opened) = held.take().unwrap_or_default();
                    all.extend(batch);
                    all_opened.extend(opened);
                    match after {
                        None => {
                            // Taken at once if the second stage is free; held and grown if not.
                            match items.try_send(Item::Batch(all, all_opened)) {
                                Ok(()) => {}
                                Err(mpsc::error::TrySendError::Full(Item::Batch(all, opened))) => {
                                    held = Some((all, opened));
                                }
                                Err(_) => return,
                            }
                            continue;
                        }
                        Some(item) => {
                            if items.send(Item::Batch(all, all_opened)).await.is_err() {
                                return;
                            }
                            item
                        }
                    }
                }
                Ok(Some(InboxEvent::Message { case_id, seq })) => Item::Message { case_id, seq },
                Ok(None) => Item::Ended("the server ended the stream".to_owned()),
                Err(e) => Item::Ended(e.to_string()),
            };
            // Whatever follows a held batch goes after it.
            if let Some((batch, opened)) = held.take() {
                if items.send(Item::Batch(batch, opened)).await.is_err() {
                    return;
                }
            }
            let ended = matches!(item, Item::Ended(_));
            if items.send(item).await.is_err() || ended {
                return;
            }
        }
    }

    /// The second stage: takes each item of the first in order (stores and acknowledges a
    /// batch, syncs a case), tries the reports still uploading again, and tells the front end.
    /// A batch is acknowledged while the next one is stored: the acknowledgement (a request,
    /// then a commit) of one batch overlaps the commit of the next, each batch is still
    /// acknowledged only once stored, and what becomes of each is told in order. An error only
    /// if the local store fails.
    async fn take_items(
        &self,
        queue: &mut mpsc::Receiver<Item>,
        options: InboxOptions,
        events: &mpsc::Sender<DeskEvent>,
        pending: &mut BTreeSet<ReportId>,
    ) -> Result<Outcome> {
        let mut retry = tokio::time::interval(options.pending_retry);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The batches stored and being acknowledged, oldest first.
        let mut acking: Acking<'_> = FuturesOrdered::new();
        loop {
            let (told, ended) = tokio::select! {
                Some((batch, results)) = acking.next(), if !acking.is_empty() => {
                    (told_of(&batch, results, pending), None)
                }
                item = queue.recv() => {
                    let mut told = Vec::new();
                    let mut ended = None;
                    match item {
                        Some(Item::Batch(batch, opening)) => {
                            // The batches before it are acknowledged (and told of) while it is
                            // opened and stored.
                            let stored = {
                                let storing = async {
                                    let opened = opening.finish().await;
                                    self.store_opened(&batch, opened, options.attachment_wait).await
                                };
                                tokio::pin!(storing);
                                loop {
                                    tokio::select! {
                                        stored = &mut storing => break stored,
                                        Some((done, results)) = acking.next(), if !acking.is_empty() => {
                                            told.extend(told_of(&done, results, pending));
                                        }
                                    }
                                }
                            };
                            // At most `ACKS_IN_FLIGHT` at once: the oldest is waited for first.
                            while acking.len() >= ACKS_IN_FLIGHT {
                                if let Some((done, results)) = acking.next().await {
                                    told.extend(told_of(&done, results, pending));
                                }
                            }
                            acking.push_back(Box::pin(async move {
                                let results = self.acknowledge_stored(stored).await;
                                (batch, results)
                            }));
                        }
                        Some(Item::Message { case_id, seq }) => {
                            told = acknowledged(&mut acking, pending).await;
                            told.extend(self.follow_up(case_id, seq).await?);
                        }
                        Some(Item::Ended(reason)) => {
                            told = acknowledged(&mut acking, pending).await;
                            ended = Some(reason);
                        }
                        // The first stage always says why it ended before it does.
                        None => {
                            told = acknowledged(&mut acking, pending).await;
                            ended = Some("the stream's reader stopped".to_owned());
                        }
                    }
                    (told, ended)
                },
                _ = retry.tick(), if !pending.is_empty() => {
                    let mut told = acknowledged(&mut acking, pending).await;
                    told.extend(self.retry_pending(pending).await);
                    (told, None)
                }
            };
            for event in told {
                if events.send(event).await.is_err() {
                    return Ok(Outcome::Stop);
                }
            }
            if let Some(reason) = ended {
                return Ok(Outcome::Ended(reason));
            }
        }
    }

    /// Tries the attachments of reports still uploading again; an event for each that moved.
    async fn retry_pending(&self, pending: &mut BTreeSet<ReportId>) -> Vec<DeskEvent> {
        let mut events = Vec::new();
        for report_id in pending.clone() {
            match self.retry_attachments(report_id).await {
                Ok(received) if received.pending.is_empty() => {
                    pending.remove(&report_id);
                    events.push(DeskEvent::Received {
                        received: Box::new(received),
                        delivery_count: 0,
                    });
                }
                // Still uploading: the next tick tries again.
                Ok(_) => {}
                // Gone from the store or the server: its next delivery starts over.
                Err(_) => {
                    pending.remove(&report_id);
                }
            }
        }
        events
    }

    /// Syncs the case of a follow-up notice, if this desk holds its report.
    async fn follow_up(&self, case_id: CaseId, seq: i64) -> Result<Option<DeskEvent>> {
        let Some(record) = self.report_for_case(case_id)? else {
            return Ok(None);
        };
        let message = match self.sync_messages(&record.report_id.to_string()).await {
            Ok(messages) => messages.into_iter().rev().find(|m| m.seq == seq),
            // The network failed: the notice is not lost, the next sync reads the message.
            Err(crate::Error::Network(_)) => None,
            // Only the desk's own store failing stops the loop.
            Err(e @ (crate::Error::Storage(_) | crate::Error::Io(_))) => return Err(e),
            // Anything else is this notice's alone (the report was handed to another unit
            // meanwhile, the server's answer did not parse): it is passed over, and the loop
            // goes on with the others.
            Err(_) => return Ok(None),
        };
        Ok(Some(DeskEvent::FollowUp {
            report_id: record.report_id,
            message,
        }))
    }
}

/// The stored batches being acknowledged, in order: each gives its deliveries and what
/// became of each.
type Acking<'a> = FuturesOrdered<
    std::pin::Pin<Box<dyn Future<Output = (Vec<Delivery>, Vec<Result<Received>>)> + Send + 'a>>,
>;

/// What became of the batches being acknowledged, once all are.
async fn acknowledged(acking: &mut Acking<'_>, pending: &mut BTreeSet<ReportId>) -> Vec<DeskEvent> {
    let mut told = Vec::new();
    while let Some((batch, results)) = acking.next().await {
        told.extend(told_of(&batch, results, pending));
    }
    told
}

/// What became of each delivery of a batch, as events, in order; the reports still waiting for
/// attachments are kept in `pending` (tried again on the retry tick).
fn told_of(
    batch: &[Delivery],
    results: Vec<Result<Received>>,
    pending: &mut BTreeSet<ReportId>,
) -> Vec<DeskEvent> {
    batch
        .iter()
        .zip(results)
        .map(|(delivery, result)| match result {
            Ok(received) => {
                if received.pending.is_empty() {
                    pending.remove(&delivery.report_id);
                } else {
                    pending.insert(delivery.report_id);
                }
                DeskEvent::Received {
                    received: Box::new(received),
                    delivery_count: delivery.delivery_count,
                }
            }
            Err(e) => DeskEvent::Refused {
                report_id: delivery.report_id,
                reason: e.to_string(),
            },
        })
        .collect()
}

/// `first` and the deliveries that already arrived behind it, up to `limit`, without
/// waiting for more (a live report is taken at once; a backlog arrives in bursts and is taken in
/// batches); and the other event that ended the gathering, if any. The stream's reads are
/// cancel-safe, so the one that finds nothing ready loses nothing.
async fn gather(first: Delivery, stream: &mut InboxStream, limit: usize) -> (Vec<Delivery>, Option<Item>) {
    let mut batch = vec![first];
    while batch.len() < limit {
        let Ok(next) = tokio::time::timeout(Duration::ZERO, stream.next()).await else {
            break;
        };
        match next {
            Ok(Some(InboxEvent::Report(delivery))) => batch.push(*delivery),
            Ok(Some(InboxEvent::Message { case_id, seq })) => {
                return (batch, Some(Item::Message { case_id, seq }))
            }
            Ok(None) => return (batch, Some(Item::Ended("the server ended the stream".to_owned()))),
            Err(e) => return (batch, Some(Item::Ended(e.to_string()))),
        }
    }
    (batch, None)
}

/// `wait` plus up to a quarter more, at random, so desks that lost the same server do not all
/// come back at the same moment.
fn jittered(wait: Duration) -> Duration {
    let random = random_array::<2>(&mut OsRandom::new()).map_or(0, u16::from_le_bytes);
    wait + wait.mul_f64(f64::from(random) / f64::from(u16::MAX) / 4.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_jitter_adds_at_most_a_quarter() {
        for _ in 0..100 {
            let wait = jittered(Duration::from_secs(4));
            assert!(
                wait >= Duration::from_secs(4) && wait <= Duration::from_secs(5),
                "{wait:?}"
            );
        }
    }
}
