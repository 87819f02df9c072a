//! Taking delivered reports: open each with the unit's key, fetch and check its attachments,
//! store it, and acknowledge it once stored. A backlog arrives as a burst of deliveries, so they
//! are taken in batches: the envelopes of a batch are opened side by side on tokio's blocking
//! pool (one task per core, at most [`OPENERS`]; opening is an X25519 agreement, an AEAD open
//! and a parse, all CPU), the records are committed in one transaction and acknowledged in one
//! request ([`super::DeskClient::ack_batch`]), and only after that commit (an acknowledged
//! report is on the desk's disk), which costs two synced commits and one request per batch
//! instead of two and one per report; the second commit only marks them acknowledged (a
//! column beside each sealed record, so no record is sealed twice). Storing
//! ([`Desk::store_opened`]) and acknowledging ([`Desk::acknowledge_stored`]) are two steps, so
//! that the receiving loop stores the next batch while one is being acknowledged.

use std::io::BufReader;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::{AttachmentState, Delivery, Desk, Download, Received, ReportRecord, Status};
use crate::attachment::{self, AttachmentKey};
use crate::crypto::Context;
use crate::encoding::{b64, unb64};
use crate::envelope::{open_report, Envelope, OpenedReport};
use crate::report::ReportId;
use crate::{Error, Result};

/// Most tasks of tokio's blocking pool that open the envelopes of one batch at once.
const OPENERS: usize = 4;

/// Between two tries of the attachments still uploading, while a batch waits for them.
const ATTACHMENT_POLL: Duration = Duration::from_millis(100);

/// A batch stored by [`Desk::store_opened`], waiting to be acknowledged: each delivery's
/// record, or, if the commit failed, what each delivery gave.
pub(crate) struct Stored(std::result::Result<Vec<Result<Opened>>, Vec<Result<Received>>>);

/// Envelopes being opened (by [`Desk::start_opening`]), in the order of their deliveries.
#[derive(Default)]
pub(crate) struct Opening(Vec<Part>);

/// Some of them: opened, or being opened by a task of the blocking pool (and how many).
enum Part {
    Ready(Vec<Result<OpenedReport>>),
    Running(tokio::task::JoinHandle<Vec<Result<OpenedReport>>>, usize),
}

impl Opening {
    /// Those of `more` after these.
    pub(crate) fn extend(&mut self, more: Opening) {
        self.0.extend(more.0);
    }

    /// What opening each gave, in order, once all are opened.
    pub(crate) async fn finish(self) -> Vec<Result<OpenedReport>> {
        let mut opened = Vec::new();
        for part in self.0 {
            match part {
                Part::Ready(part) => opened.extend(part),
                Part::Running(task, count) => match task.await {
                    Ok(part) => opened.extend(part),
                    // The task panicked or the runtime is shutting down: none of its part is
                    // taken (each stays unacknowledged and comes again).
                    Err(_) => opened.extend(unfinished(count, "opening it")),
                },
            }
        }
        opened
    }
}

/// One delivery of a batch, opened, waiting to be stored.
struct Opened {
    record: ReportRecord,
    first_time: bool,
    pending: Vec<u16>,
    /// Whether its record is in the store already (delivered before, or stored as its
    /// attachments came).
    stored: bool,
}

/// `count` deliveries whose `step` ran on the blocking pool and did not finish (the task
/// panicked or the runtime is shutting down): none is taken, and each comes again.
fn unfinished<T>(count: usize, step: &str) -> Vec<Result<T>> {
    (0..count)
        .map(|_| Err(Error::invalid("delivery", format!("{step} did not finish"))))
        .collect()
}

/// The same failure for each report of a batch it struck (the network's errors are kept as
/// they are, so a caller can still tell them apart).
fn shared(e: &Error) -> Error {
    match e {
        Error::Network(net) => Error::Network(net.clone()),
        other => Error::invalid("desk", other.to_string()),
    }
}

impl Desk {
    /// Opens a delivered report, stores it, fetches and verifies its attachments, and
    /// acknowledges it once everything is stored. A report that does not open with this unit's
    /// key is an error and is not acknowledged (it stays on the server).
    pub async fn receive(&self, delivery: &Delivery) -> Result<Received> {
        self.receive_waiting(delivery, Duration::ZERO).await
    }

    /// Receives one delivery, trying its attachments still uploading again until `wait` has
    /// passed (bounded, so one stalled upload cannot hold a desk).
    pub async fn receive_waiting(&self, delivery: &Delivery, wait: Duration) -> Result<Received> {
        self.receive_batch(std::slice::from_ref(delivery), wait)
            .await
            .pop()
            .unwrap_or_else(|| Err(Error::invalid("delivery", "nothing was received")))
    }

    /// Takes a batch of deliveries: opens each, fetches its attachments (trying those still
    /// uploading again until `wait` has passed), stores every record in one commit, then
    /// acknowledges in one request those with all their attachments in, and records that they
    /// were. One result per delivery, in order; a delivery that failed stays unacknowledged on
    /// the server and comes again after its lease.
    pub async fn receive_batch(&self, deliveries: &[Delivery], wait: Duration) -> Vec<Result<Received>> {
        let envelopes = self.open_all(deliveries).await;
        self.receive_opened(deliveries, envelopes, wait).await
    }

    /// [`Desk::receive_batch`] after [`Desk::open_all`]: `envelopes` holds what opening each
    /// delivery gave, in order.
    pub(crate) async fn receive_opened(
        &self,
        deliveries: &[Delivery],
        envelopes: Vec<Result<OpenedReport>>,
        wait: Duration,
    ) -> Vec<Result<Received>> {
        let stored = self.store_opened(deliveries, envelopes, wait).await;
        self.acknowledge_stored(stored).await
    }

    /// The first half of taking a batch: makes each opened delivery's record, fetches its
    /// attachments (trying those still uploading until `wait` has passed), and stores every
    /// record in one commit. Nothing is acknowledged yet: [`Desk::acknowledge_stored`] does
    /// that, and the receiving loop stores the next batch while it does.
    pub(crate) async fn store_opened(
        &self,
        deliveries: &[Delivery],
        envelopes: Vec<Result<OpenedReport>>,
        wait: Duration,
    ) -> Stored {
        let deadline = Instant::now() + wait;
        let mut results: Vec<Result<Opened>> = Vec::with_capacity(deliveries.len());
        for ((i, delivery), opened) in deliveries.iter().enumerate().zip(envelopes) {
            // A report delivered twice in one batch is taken once, as its last delivery.
            if deliveries[i + 1..]
                .iter()
                .any(|d| d.report_id == delivery.report_id)
            {
                results.push(Err(Error::invalid(
                    "delivery",
                    "delivered again in the same batch",
                )));
                continue;
            }
            results.push(match opened {
                Ok(opened) => self.prepare(delivery, opened, deadline).await,
                Err(e) => Err(e),
            });
        }

        // One commit for the batch, before anything is acknowledged. It waits for the disk, so
        // it runs on the blocking pool, and the receiving loop reads and acknowledges meanwhile.
        let store = Arc::clone(&self.store);
        let count = results.len();
        let committed = tokio::task::spawn_blocking(move || {
            // A record stored already (a report delivered again, or one whose attachments were
            // stored as they came) is as it should be in the store, with whatever an officer
            // did meanwhile: it is not written again from the copy read before.
            let records: Vec<&ReportRecord> = results
                .iter()
                .flatten()
                .filter(|o| !o.stored)
                .map(|o| &o.record)
                .collect();
            match store.put_reports(&records) {
                Ok(()) => Stored(Ok(results)),
                Err(e) => Stored(Err(fail_all(results, &e))),
            }
        })
        .await;
        // The task panicked or the runtime is shutting down: none of the batch is acknowledged
        // (each comes again).
        committed.unwrap_or_else(|_| Stored(Err(unfinished(count, "storing it"))))
    }

    /// The second half: acknowledges in one request the stored deliveries with all their
    /// attachments in, and records that they were. One result per delivery, in order; a
    /// delivery that failed stays unacknowledged on the server and comes again after its lease.
    pub(crate) async fn acknowledge_stored(&self, stored: Stored) -> Vec<Result<Received>> {
        let mut results = match stored.0 {
            Ok(results) => results,
            Err(failed) => return failed,
        };
        // Acknowledged every time it comes: a repeat delivery means the last ack was lost.
        let complete: Vec<ReportId> = results
            .iter()
            .flatten()
            .filter(|o| o.pending.is_empty())
            .map(|o| o.record.report_id)
            .collect();
        if !complete.is_empty() {
            let unknown = match self.client.ack_batch(&complete).await {
                Ok(unknown) => unknown,
                Err(e) => return fail_complete(results, &e),
            };
            for result in &mut results {
                let Ok(opened) = result else { continue };
                if !opened.pending.is_empty() {
                    continue;
                }
                if unknown.contains(&opened.record.report_id) {
                    *result = Err(Error::NotFound(format!(
                        "report {} among this unit's reports on the server",
                        opened.record.report_id
                    )));
                } else {
                    opened.record.acked = true;
                }
            }
            let acked: Vec<ReportId> = results
                .iter()
                .flatten()
                .filter(|o| o.record.acked && o.pending.is_empty())
                .map(|o| o.record.report_id)
                .collect();
            // Acknowledged but not marked: harmless, the next delivery or retry marks it. A
            // commit, on the blocking pool as the batch's own.
            let store = Arc::clone(&self.store);
            match tokio::task::spawn_blocking(move || store.mark_acked(&acked)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return fail_all(results, &e),
                Err(_) => return unfinished(results.len(), "recording its acknowledgement"),
            }
        }
        results
            .into_iter()
            .map(|result| {
                result.map(|o| Received {
                    record: o.record,
                    first_time: o.first_time,
                    pending: o.pending,
                })
            })
            .collect()
    }

    /// Opens the envelope of each delivery, in order (see [`Desk::start_opening`]).
    pub(crate) async fn open_all(&self, deliveries: &[Delivery]) -> Vec<Result<OpenedReport>> {
        self.start_opening(deliveries).finish().await
    }

    /// Starts opening the envelope of each delivery. One delivery (a live report) is opened
    /// here, at once; a batch is split between up to [`OPENERS`] tasks of tokio's blocking
    /// pool, one per core, so that a backlog is opened on every core while the caller goes on
    /// (the receiving loop reads the next deliveries meanwhile).
    pub(crate) fn start_opening(&self, deliveries: &[Delivery]) -> Opening {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let tasks = cores.clamp(1, OPENERS).min(deliveries.len());
        if tasks <= 1 {
            let opened = deliveries.iter().map(|d| self.open(&d.envelope)).collect();
            return Opening(vec![Part::Ready(opened)]);
        }
        let chunk = deliveries.len().div_ceil(tasks);
        let parts = deliveries
            .chunks(chunk)
            .map(|part| {
                let envelopes: Vec<Vec<u8>> = part.iter().map(|d| d.envelope.clone()).collect();
                let unit_id = self.keys.unit_id.clone();
                let key = Arc::clone(&self.opener);
                let task = tokio::task::spawn_blocking(move || {
                    envelopes
                        .iter()
                        .map(|bytes| open_report(&Envelope::from_bytes(bytes)?, &unit_id, &key))
                        .collect::<Vec<_>>()
                });
                Part::Running(task, part.len())
            })
            .collect();
        Opening(parts)
    }

    /// Makes the record to store of one opened delivery and fetches its attachments, trying
    /// those still uploading until `deadline`.
    async fn prepare(&self, delivery: &Delivery, opened: OpenedReport, deadline: Instant) -> Result<Opened> {
        // The store keeps envelopes as base64url text.
        let envelope = b64(&delivery.envelope);
        if opened.report.case_id != delivery.case_id {
            return Err(Error::invalid(
                "delivery",
                "the report names another case than the server",
            ));
        }
        // The envelope's own id (bound into its sealing) must be the one it is delivered and
        // stored under: a server cannot deliver one report under another's id and so replace
        // the record the desk keeps of that one.
        if opened.report_id != delivery.report_id {
            return Err(Error::invalid(
                "delivery",
                "the envelope is another report than the server says",
            ));
        }
        let existing = self.store.report(delivery.report_id)?;
        // The same report under a new envelope was transferred back to this unit: a new arrival.
        let (mut record, first_time) = match existing {
            Some(record) if record.envelope == envelope => (record, false),
            _ => (
                ReportRecord {
                    report_id: delivery.report_id,
                    case_id: delivery.case_id,
                    received_at: delivery.received_at,
                    stored_at: Utc::now(),
                    envelope,
                    attachments: vec![AttachmentState::Pending; opened.report.attachments.len()],
                    report: opened.report,
                    status: Status::New,
                    acked: false,
                    transfer: None,
                    last_seq: 0,
                },
                true,
            ),
        };
        let mut pending = self.fetch_attachments(&mut record, &opened.context).await?;
        while !pending.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(ATTACHMENT_POLL.min(deadline - Instant::now())).await;
            pending = self.fetch_attachments(&mut record, &opened.context).await?;
        }
        let stored = !first_time || record.attachments.iter().any(|a| *a != AttachmentState::Pending);
        Ok(Opened {
            record,
            first_time,
            pending,
            stored,
        })
    }

    /// Tries again to fetch the attachments still uploading, and acknowledges the report once
    /// none is left.
    pub async fn retry_attachments(&self, report_id: ReportId) -> Result<Received> {
        let mut record = self.find(&report_id.to_string())?;
        let opened = self.open(&unb64(&record.envelope)?)?;
        // Each attachment taken is stored as it is (see `fetch_attachments`).
        let pending = self.fetch_attachments(&mut record, &opened.context).await?;
        if pending.is_empty() && !record.acked {
            self.client.ack(record.report_id).await?;
            self.store.mark_acked(&[record.report_id])?;
            record.acked = true;
        }
        Ok(Received {
            record,
            first_time: false,
            pending,
        })
    }

    /// Downloads, decrypts and checks every attachment still pending; returns those the
    /// reporter has not finished uploading. Each one fetched is recorded at once, so a failure
    /// of the next does not make the desk download it again.
    async fn fetch_attachments(&self, record: &mut ReportRecord, context: &Context) -> Result<Vec<u16>> {
        let mut pending = Vec::new();
        for (i, info) in record.report.attachments.clone().iter().enumerate() {
            if record.attachments.get(i) != Some(&AttachmentState::Pending) {
                continue;
            }
            let scratch = self
                .store
                .scratch_path(&format!("{}-{}-download", record.report_id, info.index));
            let download = {
                let mut file = std::io::BufWriter::new(std::fs::File::create(&scratch)?);
                let download = self
                    .client
                    .download_attachment(record.report_id, info.index, &mut file)
                    .await;
                std::io::Write::flush(&mut file)?;
                download
            };
            let state = match download {
                // Not the sealed length of what the report declares: cut short or run on on its
                // way (the server's or the network's doing, not the reporter's). Not taken, and
                // not acknowledged: the next try downloads it again.
                Ok(Download::Complete { bytes }) if bytes != attachment::sealed_size(info.size) => {
                    let _ = std::fs::remove_file(&scratch);
                    return Err(Error::invalid(
                        format!("attachments[{}]", info.index),
                        format!(
                            "the server sent {bytes} bytes, not the {} it is sealed as",
                            attachment::sealed_size(info.size)
                        ),
                    ));
                }
                Ok(Download::Complete { .. }) => {
                    let key = AttachmentKey::derive(context, info.index)?;
                    let mut writer = self.store.attachment_writer(record.report_id, info.index)?;
                    let mut sealed = BufReader::new(std::fs::File::open(&scratch)?);
                    match attachment::decrypt(&key, info, &mut sealed, &mut writer) {
                        Ok(()) => {
                            writer.finish()?;
                            AttachmentState::Saved
                        }
                        // The desk's own disk failed (full, unreadable): nothing is said of the
                        // attachment, and the report is not acknowledged, so the server keeps it.
                        Err(e @ (Error::Io(_) | Error::Storage(_))) => {
                            writer.discard();
                            let _ = std::fs::remove_file(&scratch);
                            return Err(e);
                        }
                        // It does not open or does not match the report: the reporter's (or a
                        // forger's) doing, and it never will.
                        Err(e) => {
                            writer.discard();
                            AttachmentState::Invalid {
                                reason: e.to_string(),
                            }
                        }
                    }
                }
                Ok(Download::Incomplete) => {
                    pending.push(info.index);
                    AttachmentState::Pending
                }
                Ok(Download::Missing) => AttachmentState::Invalid {
                    reason: "the server does not hold it".into(),
                },
                Err(e) => {
                    let _ = std::fs::remove_file(&scratch);
                    return Err(e);
                }
            };
            let _ = std::fs::remove_file(&scratch);
            let moved = state != AttachmentState::Pending;
            if moved {
                // Only this attachment's state is changed in the stored record: what an officer
                // did meanwhile stays.
                *record = self.store.update_report(record, |r| {
                    if let Some(stored) = r.attachments.get_mut(i) {
                        *stored = state;
                    }
                })?;
            }
        }
        Ok(pending)
    }
}

/// Every delivery of the batch failed with `e` (the store could not commit).
fn fail_all(results: Vec<Result<Opened>>, e: &Error) -> Vec<Result<Received>> {
    results
        .into_iter()
        .map(|result| result.and_then(|_| Err(shared(e))))
        .collect()
}

/// The acknowledgement failed with `e`: the deliveries it was for failed (they are stored,
/// unacknowledged, and come again); those still waiting for attachments are received.
fn fail_complete(results: Vec<Result<Opened>>, e: &Error) -> Vec<Result<Received>> {
    results
        .into_iter()
        .map(|result| {
            let opened = result?;
            if opened.pending.is_empty() {
                return Err(shared(e));
            }
            Ok(Received {
                record: opened.record,
                first_time: opened.first_time,
                pending: opened.pending,
            })
        })
        .collect()
}
