//! The outbox: a report is sealed and written to disk the moment the reporter presses send,
//! with or without a network, and delivered later with retries, back-off and jitter, across app
//! restarts. The report id is the idempotency key, so a retry never makes a duplicate, and an
//! attachment upload resumes where the server says it stopped.

use std::io::{Read, Seek, SeekFrom, Write};

use chrono::{DateTime, Duration, Utc};
use zeroize::Zeroizing;

use super::http::NetError;
use super::local::{OutboxRow, OutboxState};
use super::Client;
use crate::api::{DeclaredAttachment, ServerConfig, SubmitReport};
use crate::attachment::{self, AttachmentKey};
use crate::codename::Codename;
use crate::compose::Draft;
use crate::crypto::random::random_array;
use crate::crypto::OsRandom;
use crate::envelope::{seal_report, Envelope};
use crate::receipt::SignedReceipt;
use crate::report::{CaseId, ReportId};
use crate::{stamp, Error, Result};

/// Largest piece of an attachment sent in one request.
const UPLOAD_PIECE: u64 = 256 * 1024;
/// First retry delay; doubles per attempt up to [`MAX_BACKOFF_SECS`].
const BASE_BACKOFF_SECS: i64 = 2;
const MAX_BACKOFF_SECS: i64 = 3600;

/// What a screen shows for one outbox item.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxStatus {
    /// Waiting for its next attempt.
    Queued {
        /// When it will be tried.
        next_attempt: DateTime<Utc>,
        /// Why the last attempt failed (a localisation id), if one did.
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
    /// Refused for good; kept until the reporter retries or deletes it.
    Failed {
        /// Why (a localisation id such as `reason-rejected`).
        reason: String,
    },
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
        OutboxState::Failed => OutboxStatus::Failed {
            reason: row.last_error.clone().unwrap_or_default(),
        },
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
        for (i, bytes) in prepared.attachments.iter().enumerate() {
            let index = u16::try_from(i).map_err(|_| Error::invalid("attachments", "too many"))?;
            let path = self.local.attachment_path(sealed.report_id, index);
            let mut file = std::fs::File::create(&path)?;
            let size = attachment::sealed_size(bytes.len() as u64);
            attachment::encrypt(
                &AttachmentKey::derive(&sealed.context, index)?,
                &mut &bytes[..],
                &mut file,
            )?;
            file.flush()?;
            file.sync_all()?;
            attachments.push((index, size, 0));
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

    /// Tries to deliver every item that is due; call it when the app starts, when the network
    /// comes back, and from background work. Concurrent calls wait for each other.
    pub async fn flush(&self) -> Result<FlushSummary> {
        let _one_at_a_time = self.flushing.lock().await;
        let now = Utc::now();
        let rows = self.local.outbox()?;
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
            let result = match &server {
                Ok((config, keys)) => self.deliver(row, config, keys).await.map_err(|e| match e {
                    // The difficulty rose past the stamp between reading it and submitting (a
                    // flood is going on): the next attempt reads it again and solves again.
                    NetError::Refused { code, .. } if code == crate::api::code::BAD_STAMP => {
                        NetError::Busy { retry_after: None }
                    }
                    e => e,
                }),
                Err(Error::Network(e)) => Err(e.clone()),
                Err(e) => Err(NetError::Refused {
                    status: 0,
                    code: "receipt_key".into(),
                    message: e.to_string(),
                }),
            };
            match result {
                Ok(()) => summary.delivered += 1,
                Err(e) => {
                    let retry_at = match &e {
                        NetError::Refused { .. } => None,
                        NetError::Busy {
                            retry_after: Some(secs),
                        } => {
                            Some(Utc::now() + Duration::seconds((*secs).min(MAX_BACKOFF_SECS as u64) as i64))
                        }
                        _ => Some(Utc::now() + backoff(row.attempts)),
                    };
                    self.local.set_failed(row.report_id, e.reason_id(), retry_at)?;
                    if retry_at.is_some() {
                        summary.pending += 1;
                    } else {
                        summary.failed += 1;
                    }
                }
            }
            if let Some(updated) = self
                .local
                .outbox()?
                .into_iter()
                .find(|r| r.report_id == row.report_id)
            {
                self.notify(item_of(&updated, status_of(&updated)));
            }
        }
        Ok(summary)
    }

    /// Delivers one item: stamp (solved again if the server now announces a higher difficulty
    /// than the one kept), submit (idempotent), check the receipt, upload what the server lacks
    /// of each attachment.
    async fn deliver(
        &self,
        row: &OutboxRow,
        config: &ServerConfig,
        receipt_keys: &[crate::keys::VerifyingKey],
    ) -> Result<(), NetError> {
        let local_err = |e: Error| NetError::Refused {
            status: 0,
            code: "local".into(),
            message: e.to_string(),
        };
        let total: u64 = row.envelope.len() as u64 + row.attachments.iter().map(|a| a.1).sum::<u64>();
        let mut done = 0u64;
        let progress = |done: u64| OutboxStatus::Sending {
            progress: (done as f64 / total.max(1) as f64) as f32,
        };
        self.notify(item_of(row, progress(done)));
        let envelope = Envelope::from_bytes(&row.envelope).map_err(|e| local_err(e.into()))?;
        if row.receipt.is_none() {
            let difficulty = config.stamp_difficulty;
            let stamp = match row.stamp {
                Some((stamp, d)) if d >= difficulty => stamp,
                _ => {
                    let stamp =
                        stamp::solve(&envelope.digest(), difficulty).ok_or_else(|| NetError::Refused {
                            status: 0,
                            code: "stamp_difficulty".into(),
                            message: format!("the server asks for an impossible difficulty {difficulty}"),
                        })?;
                    self.local
                        .set_stamp(row.report_id, stamp, difficulty)
                        .map_err(local_err)?;
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
            let signed = self.api.submit(&submission).await?;
            signed
                .verify_with_any(receipt_keys, &envelope)
                .map_err(|e| NetError::Refused {
                    status: 0,
                    code: "bad_receipt".into(),
                    message: e.to_string(),
                })?;
            let json = serde_json::to_vec(&signed).map_err(|e| local_err(e.into()))?;
            self.local.set_receipt(row.report_id, &json).map_err(local_err)?;
        }
        done += row.envelope.len() as u64;
        self.notify(item_of(row, progress(done)));
        if !row.attachments.is_empty() {
            let secret = self.case_secret(row.case_id).map_err(local_err)?;
            let piece = UPLOAD_PIECE.min((config.limits.max_chunk_bytes as u64).max(1));
            for &(index, size, _) in &row.attachments {
                let mut offset = self.api.attachment_offset(row.report_id, index, &secret).await?;
                let mut file = std::fs::File::open(self.local.attachment_path(row.report_id, index))
                    .map_err(|e| local_err(e.into()))?;
                while offset < size {
                    let len = piece.min(size - offset);
                    let mut buf = vec![0u8; len as usize];
                    file.seek(SeekFrom::Start(offset))
                        .map_err(|e| local_err(e.into()))?;
                    file.read_exact(&mut buf).map_err(|e| local_err(e.into()))?;
                    offset = self
                        .api
                        .upload(row.report_id, index, &secret, offset, buf)
                        .await?;
                    self.local
                        .set_uploaded(row.report_id, index, offset)
                        .map_err(local_err)?;
                    self.notify(item_of(row, progress(done + offset)));
                }
                done += size;
            }
        }
        self.local
            .set_delivered(row.report_id, Utc::now())
            .map_err(local_err)?;
        Ok(())
    }

    /// The case secret, from the codename kept (sealed) in the case book.
    pub(crate) fn case_secret(&self, case_id: CaseId) -> Result<Zeroizing<[u8; 32]>> {
        let entry = self.case_entry(case_id)?;
        Ok(Codename::parse(&entry.codename)?.derive()?.case_secret)
    }
}
