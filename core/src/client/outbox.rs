//! The outbox: a report is sealed and written to disk the moment the reporter presses send,
//! with or without a network, and delivered later with retries, back-off and jitter, across app
//! restarts. The report id is the idempotency key, so a retry never makes a duplicate, and an
//! attachment upload resumes where the server says it stopped.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use zeroize::Zeroizing;

use super::http::NetError;
use super::local::{Local, OutboxRow, OutboxState};
use super::Client;
use crate::api::{DeclaredAttachment, ServerConfig, SubmitReport};
use crate::attachment::{self, AttachmentKey};
use crate::codename::Codename;
use crate::compose::{CleanAttachment, Draft};
use crate::crypto::random::random_array;
use crate::crypto::OsRandom;
use crate::envelope::{seal_report, Envelope};
use crate::receipt::SignedReceipt;
use crate::report::{AttachmentInfo, CaseId, ReportId};
use crate::{stamp, Error, Result};

/// Largest piece of an attachment sent in one request.
const UPLOAD_PIECE: u64 = 256 * 1024;
/// First retry delay; doubles per attempt up to [`MAX_BACKOFF_SECS`].
const BASE_BACKOFF_SECS: i64 = 2;
const MAX_BACKOFF_SECS: i64 = 3600;

/// What a screen shows for one outbox item.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxStatus {
    /// Waiting for its next attempt: not sent yet, or stopped by something that passes (the
    /// network, a busy server, this device's storage or key store), never by a refusal.
    Queued {
        /// When it will be tried.
        next_attempt: DateTime<Utc>,
        /// Why the last attempt stopped (a localisation id such as `reason-offline` or
        /// `reason-local`), if one did.
        last_error: Option<String>,
    },
    /// Being sent; `progress` from 0 to 1 over envelope and attachments.
    Sending {
        /// How much has reached the server.
        progress: f32,
    },
    /// On the server, every attachment included; the receipt is kept.
    Delivered {
        /// When the server says it received it.
        received_at: DateTime<Utc>,
    },
    /// Refused for good by the server (a 4xx other than 408 and 429); kept until the reporter
    /// retries it.
    Failed {
        /// Why (the localisation id `reason-rejected`).
        reason: String,
        /// The HTTP status the server refused it with.
        status: u16,
        /// The server's stable error code (`bad_envelope`, `unknown_unit`...).
        code: String,
    },
    /// The server took the report but its signed receipt does not verify: the receipt is kept
    /// for the reporter to see, and the report is not sent again as new.
    ReceiptUnverified,
}

/// One outbox item for a screen.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// The report id.
    pub report_id: ReportId,
    /// The unit it is for.
    pub unit_id: String,
    /// Its case.
    pub case_id: CaseId,
    /// When it was written.
    pub created: DateTime<Utc>,
    /// Where it stands.
    pub status: OutboxStatus,
}

/// Hears every change of an outbox item, for the screen and notifications.
pub trait OutboxListener: Send + Sync {
    /// `item` changed.
    fn on_change(&self, item: OutboxItem);
}

/// What pressing "send" gives the reporter, even offline.
#[derive(Debug)]
pub struct Filed {
    /// The report id.
    pub report_id: ReportId,
    /// The case id.
    pub case_id: CaseId,
    /// The codename to show once and keep.
    pub codename: Zeroizing<String>,
    /// The unit it goes to.
    pub unit_id: String,
    /// For each attachment, whether its metadata was stripped.
    pub stripped: Vec<bool>,
}

/// What one flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlushSummary {
    /// Items delivered by this flush.
    pub delivered: u32,
    /// Items still waiting (failed attempts included).
    pub pending: u32,
    /// Items refused for good.
    pub failed: u32,
    /// Items whose receipt did not verify.
    pub unverified: u32,
}

fn status_of(row: &OutboxRow) -> OutboxStatus {
    match row.state {
        OutboxState::Delivered => {
            let received_at = row
                .receipt
                .as_deref()
                .and_then(|r| serde_json::from_slice::<SignedReceipt>(r).ok())
                .map(|r| r.receipt.received_at)
                .unwrap_or(row.created);
            OutboxStatus::Delivered { received_at }
        }
        OutboxState::Failed => {
            let (status, code) = row.refusal.clone().unwrap_or_default();
            OutboxStatus::Failed {
                reason: row.last_error.clone().unwrap_or_default(),
                status,
                code,
            }
        }
        OutboxState::ReceiptUnverified => OutboxStatus::ReceiptUnverified,
        OutboxState::Queued => OutboxStatus::Queued {
            next_attempt: row.next_attempt,
            last_error: row.last_error.clone(),
        },
    }
}

fn item_of(row: &OutboxRow, status: OutboxStatus) -> OutboxItem {
    OutboxItem {
        report_id: row.report_id,
        unit_id: row.unit_id.clone(),
        case_id: row.case_id,
        created: row.created,
        status,
    }
}

/// Exponential back-off with full jitter: a random delay between half and all of
/// `2 s × 2^attempts`, capped at an hour, so that many phones coming back online at once do not
/// all knock at the same second.
fn backoff(attempts: u32) -> Duration {
    let ceiling = BASE_BACKOFF_SECS
        .saturating_mul(1i64 << attempts.min(20))
        .min(MAX_BACKOFF_SECS);
    let random = random_array::<2>(&mut OsRandom::new())
        .map(u16::from_be_bytes)
        .unwrap_or(u16::MAX);
    let millis = ceiling * 1000 / 2 + (ceiling * 1000 / 2) * i64::from(random) / i64::from(u16::MAX);
    Duration::milliseconds(millis)
}

/// Seals one cleaned attachment chunk by chunk into the outbox file at `path`, synced, checking
/// on the way that the bytes are still those the report describes (an app that changed the file
/// after the report was sealed would otherwise send an attachment the desk refuses). Memory
/// stays at a chunk or two whatever the size.
fn seal_attachment(
    key: &AttachmentKey,
    clean: &CleanAttachment,
    info: &AttachmentInfo,
    path: &Path,
) -> Result<()> {
    let mut source = DigestReader {
        inner: clean.open()?,
        digest: ring::digest::Context::new(&ring::digest::SHA256),
    };
    let mut file =
        std::io::BufWriter::with_capacity(attachment::SEALED_CHUNK_SIZE, std::fs::File::create(path)?);
    let size = attachment::encrypt(key, &mut source, &mut file)?;
    if size != info.size || source.digest.finish().as_ref() != info.sha256 {
        return Err(Error::invalid(
            format!("attachments[{}]", info.index),
            "the file changed while the report was being sealed",
        ));
    }
    let file = file.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

/// The case secret, from the codename kept (sealed) in the case book of `local`.
fn case_secret(local: &Local, case_id: CaseId) -> Result<Zeroizing<[u8; 32]>> {
    let entry = local
        .cases()?
        .into_iter()
        .find(|c| c.case_id == case_id)
        .ok_or_else(|| Error::NotFound("that case on this device".into()))?;
    Ok(Codename::parse(&entry.codename)?.derive()?.case_secret)
}

/// A reader that hashes what passes through it.
struct DigestReader<R> {
    inner: R,
    digest: ring::digest::Context,
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

/// How far a sending has gone (`OutboxStatus::Sending`'s 0 to 1) as a whole percentage from 0 to
/// 100 for the screen; anything out of range (or not a number) is clamped.
pub fn percent(progress: f32) -> u8 {
    if progress.is_nan() {
        return 0;
    }
    (progress.clamp(0.0, 1.0) * 100.0).round() as u8
}

/// The localisation id of "the phone had no connection": the one wait that the network's
/// return ends at once.
const REASON_OFFLINE: &str = "reason-offline";

/// The reason shown for a report the server refused for good.
const REASON_REJECTED: &str = "reason-rejected";

/// Why a delivery attempt stopped, sorted by what can be done about it: a refusal by the server
/// is final, a receipt that does not verify is kept aside, and everything else passes and is
/// tried again after a back-off.
#[derive(Debug)]
enum Stopped {
    /// The network or the server; final only as [`NetError::Refused`] (a 4xx other than 408 and
    /// 429).
    Net(NetError),
    /// This device: its storage, a sealed file, the key store. The details stay out of the
    /// outbox (they may name paths); the reason is `reason-local`.
    Local,
    /// The server announces another receipt key than the one this device saw first.
    ServerKeyChanged,
    /// The server answered with a receipt (this JSON) that does not verify.
    ReceiptUnverified(Vec<u8>),
}

impl Stopped {
    /// The localisation id of the reason a waiting item shows.
    fn reason_id(&self) -> &'static str {
        match self {
            Stopped::Net(e) => e.reason_id(),
            Stopped::Local => "reason-local",
            Stopped::ServerKeyChanged | Stopped::ReceiptUnverified(_) => "reason-receipt",
        }
    }
}

impl From<NetError> for Stopped {
    fn from(e: NetError) -> Self {
        Stopped::Net(e)
    }
}

/// A failure on this device, during delivery.
fn local(_: impl Into<Error>) -> Stopped {
    Stopped::Local
}

impl Client {
    /// Seals a draft and puts it in the outbox at once (no network needed): checks the draft
    /// against the directory, strips photo metadata, blurs the position, creates the case and
    /// its codename, seals the report and its attachments, and writes them to disk.
    pub fn file_report(&self, draft: &Draft) -> Result<Filed> {
        let directory = self.require_directory()?;
        let codename = Codename::generate()?;
        let case = codename.derive()?;
        let prepared = draft.prepare(&directory, case.case_id, case.reply_key.public_key())?;
        let sealed = seal_report(&prepared.report, &prepared.unit_id, &prepared.unit_key)?;
        let mut attachments = Vec::with_capacity(prepared.attachments.len());
        for (i, (clean, info)) in prepared
            .attachments
            .iter()
            .zip(&prepared.report.attachments)
            .enumerate()
        {
            let index = u16::try_from(i).map_err(|_| Error::invalid("attachments", "too many"))?;
            let path = self.local.attachment_path(sealed.report_id, index);
            let written = seal_attachment(
                &AttachmentKey::derive(&sealed.context, index)?,
                clean,
                info,
                &path,
            );
            if let Err(e) = written {
                for earlier in 0..=index {
                    let _ = std::fs::remove_file(self.local.attachment_path(sealed.report_id, earlier));
                }
                return Err(e);
            }
            attachments.push((index, attachment::sealed_size(info.size), 0));
        }
        let phrase = codename.to_phrase();
        let now = Utc::now();
        self.local
            .add_case(case.case_id, &prepared.unit_id, &phrase, now)?;
        let row = OutboxRow {
            report_id: sealed.report_id,
            unit_id: prepared.unit_id.clone(),
            case_id: case.case_id,
            case_secret_hash: case.case_secret_hash(),
            envelope: sealed.envelope.to_bytes(),
            state: OutboxState::Queued,
            attempts: 0,
            next_attempt: now,
            last_error: None,
            stamp: None,
            receipt: None,
            refusal: None,
            created: now,
            attachments,
        };
        self.local.enqueue(&row)?;
        self.notify(item_of(&row, status_of(&row)));
        Ok(Filed {
            report_id: sealed.report_id,
            case_id: case.case_id,
            codename: phrase,
            unit_id: prepared.unit_id,
            stripped: prepared.stripped,
        })
    }

    /// [`Client::file_report`] for async code, as the bindings and the desktop tool call it: the
    /// stripping, the sealing (seconds for a long video) and the disk writes run on the
    /// runtime's blocking pool, not on its few async workers.
    pub async fn file_report_async(self: std::sync::Arc<Self>, draft: Draft) -> Result<Filed> {
        super::blocking(move || self.file_report(&draft)).await?
    }

    /// Every outbox item with its status, oldest first. Nothing is ever dropped from it.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>> {
        Ok(self
            .local
            .outbox()?
            .iter()
            .map(|row| item_of(row, status_of(row)))
            .collect())
    }

    /// Puts an item back in the queue, due now (the reporter pressed "retry").
    pub fn retry(&self, report_id: ReportId) -> Result<bool> {
        self.local.retry(report_id, Utc::now())
    }

    /// Makes due now the items that waited only because the phone was offline, and no other:
    /// a busy or failing server's back-off, or this device's own trouble, is not ended by the
    /// phone's network coming back. Call it when the platform says so, then [`Client::flush`].
    /// Returns how many items it made due.
    pub fn retry_waiting_for_network(&self) -> Result<u32> {
        self.local.make_due(REASON_OFFLINE, Utc::now())
    }

    /// Tries to deliver every item that is due; call it when the app starts, when the network
    /// comes back, and from background work. Concurrent calls wait for each other.
    pub async fn flush(&self) -> Result<FlushSummary> {
        let _one_at_a_time = self.flushing.lock().await;
        let now = Utc::now();
        let rows = self.on_disk(Local::outbox).await?;
        let due: Vec<&OutboxRow> = rows
            .iter()
            .filter(|r| r.state == OutboxState::Queued && r.next_attempt <= now)
            .collect();
        let mut summary = FlushSummary::default();
        if due.is_empty() {
            summary.pending = rows.iter().filter(|r| r.state == OutboxState::Queued).count() as u32;
            return Ok(summary);
        }
        let server = self.receipt_keys().await;
        for row in due {
            let id = row.report_id;
            let result = match &server {
                Ok((config, keys)) => self.deliver(row, config, keys).await,
                Err(Error::Network(e)) => Err(Stopped::Net(e.clone())),
                Err(Error::Refused { .. }) => Err(Stopped::ServerKeyChanged),
                Err(_) => Err(Stopped::Local),
            };
            // What to write down; if this device cannot even write it, the item stays as it
            // was (queued) and the next flush tries again.
            let recorded = match result {
                Ok(()) => {
                    summary.delivered += 1;
                    Ok(())
                }
                Err(Stopped::Net(NetError::Refused { status, code, .. })) => {
                    summary.failed += 1;
                    self.on_disk(move |local| local.set_refused(id, REASON_REJECTED, status, &code))
                        .await
                }
                Err(Stopped::ReceiptUnverified(receipt)) => {
                    summary.unverified += 1;
                    self.on_disk(move |local| local.set_receipt_unverified(id, &receipt))
                        .await
                }
                Err(stopped) => {
                    summary.pending += 1;
                    let retry_at = match &stopped {
                        Stopped::Net(NetError::Busy {
                            retry_after: Some(secs),
                        }) => Utc::now() + Duration::seconds((*secs).min(MAX_BACKOFF_SECS as u64) as i64),
                        _ => Utc::now() + backoff(row.attempts),
                    };
                    let reason = stopped.reason_id();
                    self.on_disk(move |local| local.set_waiting(id, reason, retry_at))
                        .await
                }
            };
            if recorded.is_err() {
                continue;
            }
            if let Ok(Some(updated)) = self
                .on_disk(Local::outbox)
                .await
                .map(|rows| rows.into_iter().find(|r| r.report_id == id))
            {
                self.notify(item_of(&updated, status_of(&updated)));
            }
        }
        Ok(summary)
    }

    /// Delivers one item: stamp (solved again if the server now announces a higher difficulty
    /// than the one kept), submit (idempotent), check the receipt, upload what the server lacks
    /// of each attachment. Every failure says what can be done about it (see [`Stopped`]).
    async fn deliver(
        &self,
        row: &OutboxRow,
        config: &ServerConfig,
        receipt_keys: &[crate::keys::VerifyingKey],
    ) -> Result<(), Stopped> {
        let total: u64 = row.envelope.len() as u64 + row.attachments.iter().map(|a| a.1).sum::<u64>();
        let mut done = 0u64;
        let progress = |done: u64| OutboxStatus::Sending {
            progress: (done as f64 / total.max(1) as f64) as f32,
        };
        self.notify(item_of(row, progress(done)));
        let envelope = Envelope::from_bytes(&row.envelope).map_err(local)?;
        if row.receipt.is_none() {
            let difficulty = config.stamp_difficulty;
            let stamp = match row.stamp {
                Some((stamp, d)) if d >= difficulty => stamp,
                _ => {
                    // A difficulty no device can meet is the server's passing state (a flood),
                    // not a verdict on the report: wait and read it again.
                    let digest = envelope.digest();
                    let stamp = super::blocking(move || stamp::solve(&digest, difficulty))
                        .await
                        .map_err(local)?
                        .ok_or(Stopped::Net(NetError::Busy { retry_after: None }))?;
                    let id = row.report_id;
                    self.on_disk(move |local| local.set_stamp(id, stamp, difficulty))
                        .await
                        .map_err(local)?;
                    stamp
                }
            };
            let submission = SubmitReport {
                envelope: row.envelope.clone(),
                case_id: row.case_id,
                case_secret_hash: row.case_secret_hash,
                attachments: row
                    .attachments
                    .iter()
                    .map(|&(index, sealed_size, _)| DeclaredAttachment { index, sealed_size })
                    .collect(),
                stamp,
            };
            let signed = self.api().submit(&submission).await.map_err(|e| match e {
                // The difficulty rose past the stamp between reading it and submitting (a
                // flood is going on): the next attempt reads it again and solves again.
                NetError::Refused { code, .. } if code == crate::api::code::BAD_STAMP => {
                    NetError::Busy { retry_after: None }
                }
                e => e,
            })?;
            let json = serde_json::to_vec(&signed).map_err(local)?;
            if signed.verify_with_any(receipt_keys, &envelope).is_err() {
                return Err(Stopped::ReceiptUnverified(json));
            }
            let id = row.report_id;
            self.on_disk(move |local| local.set_receipt(id, &json))
                .await
                .map_err(local)?;
        }
        done += row.envelope.len() as u64;
        self.notify(item_of(row, progress(done)));
        if !row.attachments.is_empty() {
            let case_id = row.case_id;
            let secret = self
                .on_disk(move |local| case_secret(local, case_id))
                .await
                .map_err(local)?;
            let piece = UPLOAD_PIECE.min((config.limits.max_chunk_bytes as u64).max(1));
            for &(index, size, _) in &row.attachments {
                let mut offset = self
                    .api()
                    .attachment_offset(row.report_id, index, &secret)
                    .await?;
                let path = self.local.attachment_path(row.report_id, index);
                let mut file = Some(
                    super::blocking(move || std::fs::File::open(path))
                        .await
                        .map_err(local)?
                        .map_err(local)?,
                );
                while offset < size {
                    let len = piece.min(size - offset);
                    let mut open = file.take().ok_or(Stopped::Local)?;
                    let (open, buf) = super::blocking(move || {
                        let mut buf = vec![0u8; len as usize];
                        open.seek(SeekFrom::Start(offset))?;
                        open.read_exact(&mut buf)?;
                        Ok::<_, std::io::Error>((open, buf))
                    })
                    .await
                    .map_err(local)?
                    .map_err(local)?;
                    file = Some(open);
                    offset = self
                        .api()
                        .upload(row.report_id, index, &secret, offset, buf)
                        .await?;
                    let id = row.report_id;
                    self.on_disk(move |local| local.set_uploaded(id, index, offset))
                        .await
                        .map_err(local)?;
                    self.notify(item_of(row, progress(done + offset)));
                }
                done += size;
            }
        }
        let id = row.report_id;
        self.on_disk(move |local| local.set_delivered(id, Utc::now()))
            .await
            .map_err(local)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_percent_is_whole_and_clamped() {
        assert_eq!(
            [-0.5, 0.0, 0.004, 0.426, 1.0, 1.7, f32::NAN].map(percent),
            [0, 0, 0, 43, 100, 100, 0]
        );
    }
}
